"""Simulated devices for Steward: the whole system can be exercised without hardware.

- ``simulators.elevator.ElevatorModel``, ``water.WaterPressureSensor``,
  ``extinguisher.ExtinguisherMonitor``, ``patrol.PatrolCheckpoint``: device models driven by
  explicit simulated time (``step``/``telemetry``/``next_report_at``), seeded, with incident
  injections. Their payloads follow contract §2.
- ``simulators.schedule.Fleet``: many devices plus scripted ``Injection``s on one timeline,
  producing MQTT messages; pure, so tests drive it with a fake clock.
- ``simulators.fleet``: devices from a site file or a synthetic fleet;
  ``FleetPublisher`` (``simulators.publisher``) puts a fleet on a real broker.
- ``simulators.library``: the scenario library: for every rule a scenario that must raise it
  and a close near miss that must not (``PAIRS``), each with exactly the tickets it raises
  (``simulators.script``: ``Scenario``, ``ExpectedTicket``, devices picked by role).
- ``simulators.scenarios``: the named scenarios and how to run them: on a fleet, on a broker,
  or each on a site of its own (``stage``) to run many side by side.
- ``simulators.cli.simulate``: what ``steward simulate`` runs.

Only ``simulators.mqtt`` knows paho-mqtt.
"""
