#!/bin/sh
# Entry point of the mosquitto service: hash the plaintext credentials (one "user:password" a
# line, deploy/mosquitto/passwords) into the password file mosquitto.conf names, then run
# Mosquitto through the image's own entry point.
set -eu
passwd=/mosquitto/data/passwd
cp /mosquitto/config/passwords "$passwd"
chmod 0600 "$passwd"
mosquitto_passwd -U "$passwd"
exec /docker-entrypoint.sh mosquitto -c /mosquitto/config/mosquitto.conf
