"""Tipoff's automation: sensors (new games, drift, halftime, odds cadence, live-run registry,
serving cache, alerts) and schedules.

Wiring on top of `pipeline_assets`: these launch the jobs of `pipeline_assets.jobs` by name.
"""
from sensors.alerts import alert_sensors
from sensors.cache import serving_cache_sensor
from sensors.drift import drift_sensor
from sensors.halftime import halftime_sensor
from sensors.live_runs import registry_sensors
from sensors.new_games import new_games_sensor
from sensors.odds_cadence import odds_cadence_sensor
from sensors.schedules import automation_schedules

automation_sensors = [new_games_sensor, drift_sensor, halftime_sensor, *registry_sensors,
                      serving_cache_sensor, odds_cadence_sensor, *alert_sensors]

__all__ = ["automation_schedules", "automation_sensors", "drift_sensor", "halftime_sensor",
           "new_games_sensor", "odds_cadence_sensor"]
