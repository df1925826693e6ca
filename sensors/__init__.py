"""Tipoff's automation: sensors (new games, drift, live-run registry), schedules and their jobs."""
from sensors.drift import drift_sensor
from sensors.jobs import automation_jobs, labels_job, overnight_job, performance_job
from sensors.live_runs import registry_sensors
from sensors.new_games import new_games_sensor
from sensors.schedules import automation_schedules

automation_sensors = [new_games_sensor, drift_sensor, *registry_sensors]

__all__ = ["automation_jobs", "automation_schedules", "automation_sensors", "drift_sensor",
           "labels_job", "new_games_sensor", "overnight_job", "performance_job"]
