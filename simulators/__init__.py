"""Simulated devices for Steward: the whole system can be exercised without hardware.

- ``simulators.elevator.ElevatorModel``, ``water.WaterPressureSensor``,
  ``extinguisher.ExtinguisherMonitor``, ``patrol.PatrolCheckpoint``: device models driven by
  explicit simulated time (``step``/``telemetry``/``next_report_at``), seeded, with incident
  injections. Their payloads follow contract §2.
- ``simulators.schedule.Fleet``: many devices plus scripted ``Injection``s on one timeline,
  producing MQTT messages; pure, so tests drive it with a fake clock.
- ``simulators.fleet``: devices from a site file or a synthetic fleet;
  ``FleetPublisher`` (``simulators.publisher``) puts a fleet on a real broker.
- ``simulators.scenarios``: named incident scripts (``entrapment``, ``demo``, ...).
- ``simulators.cli.simulate``: what ``steward simulate`` runs.

Only ``simulators.mqtt`` knows paho-mqtt.
"""
