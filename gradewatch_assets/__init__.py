"""GradeWatch's Dagster code location (``gradewatch_assets.definitions``) and its commands."""

import warnings

# Dagster warns that dagster.yaml's python_logs (how GradeWatch's records reach each run's event
# log; see dagster_home/dagster.yaml) is a beta feature, once per run and per process: a demo
# start printed it 113 times, and there is nothing a newcomer can do about it. Only that one
# message is silenced: here for every process that imports this package (code servers, run
# workers, the demo), and through PYTHONWARNINGS for the daemon and webserver `up` starts.
DAGSTER_LOGGING_BETA_MESSAGE = "Handling yaml-defined logging configuration"
warnings.filterwarnings("ignore", message=DAGSTER_LOGGING_BETA_MESSAGE)
