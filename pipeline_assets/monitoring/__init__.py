"""Model monitoring (plain Python): next-day evaluation, feature drift, the performance report
read by `drift_sensor`, and the run registry of live runs.  The `model_performance` asset
(`pipeline_assets.monitoring_assets`) wraps `report.performance_report`."""
