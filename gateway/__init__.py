"""MQTT in: the only package that knows MQTT. Topics and payloads become frozen ``Reading``s."""
