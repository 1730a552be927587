# GradeWatch on the school's Docker host: the same containers as docker-compose.yml, managed
# by Terraform over SSH. The configuration files of elk/ are uploaded into the containers
# (the host has no checkout of the repository), and the GradeWatch image carries its own
# Dagster instance configuration (Dockerfile).
#
# Secrets (the passwords, the secret key, the webhook URL) end up in the containers'
# environment and therefore in the Terraform state: keep the state on the deploy machine,
# readable by its owner only, or in an encrypted backend (see README.md).

locals {
  image = "${var.image_repository}:${var.image_tag}"

  # Every setting of gradewatch/settings.py, for every container that runs GradeWatch code.
  # GRADEWATCH_SECRET_KEY is added for the web app only.
  gradewatch_env = {
    GRADEWATCH_DATABASE_URL                  = "postgresql+psycopg://gradewatch:${var.gradewatch_db_password}@postgres:5432/gradewatch"
    DAGSTER_HOME                             = "/opt/dagster/dagster_home"
    GRADEWATCH_ENVIRONMENT                   = var.settings.environment
    GRADEWATCH_LOG_LEVEL                     = var.settings.log_level
    LOGSTASH_HOST                            = "logstash"
    LOGSTASH_PORT                            = "5959"
    GRADEWATCH_PASS_MARK                     = tostring(var.settings.pass_mark)
    GRADEWATCH_MAX_UPLOAD_MB                 = tostring(var.settings.max_upload_mb)
    GRADEWATCH_ALERT_WEBHOOK_URL             = var.alert_webhook_url
    GRADEWATCH_ALERT_DEDUP_MINUTES           = tostring(var.settings.alert_dedup_minutes)
    GRADEWATCH_INBOX_DIR                     = "/var/lib/gradewatch/inbox"
    GRADEWATCH_INBOX_KEEP_ORIGINALS          = var.settings.inbox_keep_originals ? "1" : "0"
    GRADEWATCH_INBOX_REJECTED_RETENTION_DAYS = tostring(var.settings.inbox_rejected_retention_days)
    GRADEWATCH_GRADES_GRACE_DAYS             = tostring(var.settings.grades_grace_days)
    GRADEWATCH_MIN_GRADE_COVERAGE            = tostring(var.settings.min_grade_coverage)
    GRADEWATCH_ACCURACY_TOLERANCE            = tostring(var.settings.accuracy_tolerance)
    GRADEWATCH_TRAINING_PROFILE              = var.settings.training_profile
    GRADEWATCH_SENSOR_INTERVAL_SECONDS       = tostring(var.settings.sensor_interval_seconds)
    GRADEWATCH_BASELINE_MIN_GAIN             = tostring(var.settings.baseline_min_gain)
    GRADEWATCH_MODEL_EXCLUDED_FEATURES       = var.settings.model_excluded_features
    GRADEWATCH_RETRAIN_GROWTH                = tostring(var.settings.retrain_growth)
    GRADEWATCH_FAIRNESS_MAX_GAP              = tostring(var.settings.fairness_max_gap)
    GRADEWATCH_UPLOAD_WAIT_SECONDS           = tostring(var.settings.upload_wait_seconds)
    GRADEWATCH_MAX_PREDICT_MB                = tostring(var.settings.max_predict_mb)
    GRADEWATCH_USER_ID_PATTERN               = var.settings.user_id_pattern
    # HTTPS-only session cookie: serve the web app through the school's TLS reverse proxy.
    GRADEWATCH_SESSION_COOKIE_SECURE   = var.settings.session_cookie_secure ? "1" : "0"
    GRADEWATCH_MODEL_EXCLUDED_FEATURES = var.settings.model_excluded_features
    GRADEWATCH_RISK_TIERS              = var.settings.risk_tiers
  }

  webapp_env = merge(local.gradewatch_env, {
    GRADEWATCH_SECRET_KEY = var.secret_key
  })

  # Dagster's instance storage (dagster_home/dagster.production.yaml reads these).
  dagster_env = merge(local.gradewatch_env, {
    DAGSTER_PG_HOST     = "postgres"
    DAGSTER_PG_PORT     = "5432"
    DAGSTER_PG_USER     = "dagster"
    DAGSTER_PG_PASSWORD = var.dagster_pg_password
    DAGSTER_PG_DB       = "dagster"
  })

  db_init_env = {
    PGHOST                 = "postgres"
    PGPORT                 = "5432"
    PGUSER                 = "postgres"
    PGDATABASE             = "postgres"
    PGPASSWORD             = var.postgres_password
    GRADEWATCH_DB_PASSWORD = var.gradewatch_db_password
    DAGSTER_PG_PASSWORD    = var.dagster_pg_password
  }

  # The same script as the `db-init-sql` config of docker-compose.yml (a test keeps them equal):
  # create or update the roles and databases of the app and of Dagster, idempotently.
  db_init_sql = <<-EOT
    \set ON_ERROR_STOP on
    \getenv gradewatch_password GRADEWATCH_DB_PASSWORD
    \getenv dagster_password DAGSTER_PG_PASSWORD
    SELECT 'CREATE ROLE gradewatch LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gradewatch') \gexec
    SELECT 'CREATE ROLE dagster LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dagster') \gexec
    SELECT format('ALTER ROLE gradewatch WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'gradewatch_password') \gexec
    SELECT format('ALTER ROLE dagster WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'dagster_password') \gexec
    SELECT 'CREATE DATABASE gradewatch OWNER gradewatch' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'gradewatch') \gexec
    SELECT 'CREATE DATABASE dagster OWNER dagster' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dagster') \gexec
    REVOKE ALL ON DATABASE gradewatch FROM PUBLIC;
    REVOKE ALL ON DATABASE dagster FROM PUBLIC;
  EOT

  elk_dir = "${path.module}/../elk"

  # Rotate container logs: a single server must never fill its disk with them.
  log_opts = {
    "max-size" = "10m"
    "max-file" = "5"
  }
}

# ---- networks: `backend` has no route out of the server; `edge` carries the published ports
# and outbound alert webhooks.

resource "docker_network" "backend" {
  name     = "${var.name_prefix}-backend"
  internal = true
}

resource "docker_network" "edge" {
  name = "${var.name_prefix}-edge"
}

# ---- volumes: the database and the search index must survive `terraform destroy` mistakes.

resource "docker_volume" "postgres_data" {
  name = "${var.name_prefix}-postgres-data"

  lifecycle {
    prevent_destroy = true
  }
}

resource "docker_volume" "dagster_storage" {
  name = "${var.name_prefix}-dagster-storage"
}

resource "docker_volume" "inbox" {
  name = "${var.name_prefix}-inbox"
}

resource "docker_volume" "elasticsearch_data" {
  name = "${var.name_prefix}-elasticsearch-data"

  lifecycle {
    prevent_destroy = true
  }
}

resource "docker_volume" "logstash_data" {
  name = "${var.name_prefix}-logstash-data"
}

# ---- images (third-party ones pinned as in docker-compose.yml) ----

resource "docker_image" "gradewatch" {
  name         = local.image
  keep_locally = true
}

resource "docker_image" "postgres" {
  name         = "postgres:16.10-bookworm@sha256:38471f330eb885e04de130b768d6db4e10469e2311879c7e5c699f6d2d8a1c74"
  keep_locally = true
}

resource "docker_image" "elasticsearch" {
  name         = "docker.elastic.co/elasticsearch/elasticsearch:${var.elastic_version}"
  keep_locally = true
}

resource "docker_image" "logstash" {
  name         = "docker.elastic.co/logstash/logstash:${var.elastic_version}"
  keep_locally = true
}

resource "docker_image" "kibana" {
  name         = "docker.elastic.co/kibana/kibana:${var.elastic_version}"
  keep_locally = true
}

resource "docker_image" "curl" {
  name         = "curlimages/curl:8.10.1@sha256:d9b4541e214bcd85196d6e92e2753ac6d0ea699f0af5741f8c6cccbfcf00ef4b"
  keep_locally = true
}
