#!/bin/bash
# Runs once, when influxdb:2 first starts with an empty volume, after it has created the org,
# the 30-day telemetry bucket and the admin token from DOCKER_INFLUXDB_INIT_* (docker-compose.yml).
# Adds a long-term bucket of hourly means and the task that fills it, so trends outlive the
# 30 days of raw readings. Text fields (door, mode, guard_id, ...) have no mean: left out.
set -euo pipefail

org="$DOCKER_INFLUXDB_INIT_ORG"
raw="$DOCKER_INFLUXDB_INIT_BUCKET"
hourly="${raw}_hourly"

influx bucket create --org "$org" --name "$hourly" --retention 400d

task="$(mktemp)"
cat >"$task" <<FLUX
option task = {name: "steward-hourly-means", every: 1h, offset: 5m}

from(bucket: "$raw")
  |> range(start: -task.every)
  |> filter(fn: (r) => not contains(value: r._field, set: ["direction", "door", "fault_codes", "guard_id", "mode", "tag_id"]))
  |> toFloat()
  |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)
  |> to(bucket: "$hourly", org: "$org")
FLUX
influx task create --org "$org" --file "$task"
rm -f "$task"
