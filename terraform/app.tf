# PostgreSQL, the one-shot database set-up and migrations, the web app and Dagster.
# Start-up order as in docker-compose.yml: postgres healthy -> db_init -> migrate and
# dagster_migrate (each must exit 0) -> webapp and dagster_code -> webserver and daemon.

resource "docker_container" "postgres" {
  name    = "${var.name_prefix}-postgres"
  image   = docker_image.postgres.image_id
  user    = "postgres" # owns the data directory of the volume; no root needed
  restart = "unless-stopped"
  env = [
    "POSTGRES_USER=postgres",
    "POSTGRES_PASSWORD=${var.postgres_password}",
    "POSTGRES_DB=postgres",
    "POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256",
  ]
  command = [
    "postgres",
    "-c", "shared_buffers=384MB",
    "-c", "effective_cache_size=1GB",
    "-c", "work_mem=16MB",
    "-c", "maintenance_work_mem=128MB",
    "-c", "max_connections=150",
  ]
  memory        = var.memory_mb.postgres
  shm_size      = 256
  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  mounts {
    type   = "volume"
    source = docker_volume.postgres_data.name
    target = "/var/lib/postgresql/data"
  }

  networks_advanced {
    name    = docker_network.backend.id
    aliases = ["postgres"]
  }

  healthcheck {
    test         = ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"]
    interval     = "5s"
    timeout      = "5s"
    retries      = 20
    start_period = "30s"
  }

  wait         = true
  wait_timeout = 180
}

# One-shot: roles and databases (idempotent; re-applies the passwords after a rotation).
resource "docker_container" "db_init" {
  name       = "${var.name_prefix}-db-init"
  image      = docker_image.postgres.image_id
  user       = "postgres"
  entrypoint = ["psql", "--no-psqlrc", "--quiet", "--file", "/tmp/db-init.sql"]
  env        = [for k, v in local.db_init_env : "${k}=${v}"]
  memory     = 256
  restart    = "no"
  must_run   = false
  attach     = true
  logs       = true

  capabilities {
    drop = ["ALL"]
  }
  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  upload {
    file    = "/tmp/db-init.sql"
    content = local.db_init_sql
  }

  networks_advanced {
    name = docker_network.backend.id
  }

  lifecycle {
    postcondition {
      condition     = self.exit_code == 0
      error_message = "db-init failed; read its output with: docker logs ${var.name_prefix}-db-init"
    }
  }

  depends_on = [docker_container.postgres]
}

# One-shot: the application schema (`gradewatch db upgrade`). A new image tag replaces this
# container, so every release runs its migrations before the new web app starts.
resource "docker_container" "migrate" {
  name      = "${var.name_prefix}-migrate"
  image     = docker_image.gradewatch.image_id
  command   = ["gradewatch", "db", "upgrade"]
  env       = [for k, v in local.gradewatch_env : "${k}=${v}"]
  memory    = var.memory_mb.one_shot
  restart   = "no"
  must_run  = false
  attach    = true
  logs      = true
  init      = true
  read_only = true
  tmpfs     = { "/tmp" = "rw,noexec,nosuid,size=64m" }

  capabilities {
    drop = ["ALL"]
  }
  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  networks_advanced {
    name = docker_network.backend.id
  }

  lifecycle {
    postcondition {
      condition     = self.exit_code == 0
      error_message = "the migration failed; read its output with: docker logs ${var.name_prefix}-migrate"
    }
  }

  depends_on = [docker_container.db_init]
}

# One-shot: Dagster's run, event and schedule storage (`dagster instance migrate`).
resource "docker_container" "dagster_migrate" {
  name     = "${var.name_prefix}-dagster-migrate"
  image    = docker_image.gradewatch.image_id
  command  = ["dagster", "instance", "migrate"]
  env      = [for k, v in local.dagster_env : "${k}=${v}"]
  memory   = var.memory_mb.one_shot
  restart  = "no"
  must_run = false
  attach   = true
  logs     = true
  init     = true

  capabilities {
    drop = ["ALL"]
  }
  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  networks_advanced {
    name = docker_network.backend.id
  }

  lifecycle {
    postcondition {
      condition     = self.exit_code == 0
      error_message = "dagster instance migrate failed; read its output with: docker logs ${var.name_prefix}-dagster-migrate"
    }
  }

  depends_on = [docker_container.db_init]
}

resource "docker_container" "webapp" {
  name      = "${var.name_prefix}-webapp"
  image     = docker_image.gradewatch.image_id
  command   = ["gradewatch", "serve", "--host", "0.0.0.0", "--port", "5000"]
  env       = [for k, v in local.webapp_env : "${k}=${v}"]
  memory    = var.memory_mb.webapp
  restart   = "unless-stopped"
  init      = true
  read_only = true # uploads are parsed in memory, never written to disk
  tmpfs     = { "/tmp" = "rw,noexec,nosuid,size=64m" }

  capabilities {
    drop = ["ALL"]
  }
  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  ports {
    internal = 5000
    external = var.ports.webapp
    ip       = var.webapp_bind_address
  }

  networks_advanced {
    name = docker_network.backend.id
  }

  networks_advanced {
    name = docker_network.edge.id
  }

  healthcheck {
    test         = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
    interval     = "30s"
    timeout      = "5s"
    retries      = 3
    start_period = "30s"
  }

  wait         = true
  wait_timeout = 180

  depends_on = [docker_container.migrate]
}

# The code location (gRPC). Runs started by the default run launcher execute inside it.
resource "docker_container" "dagster_code" {
  name    = "${var.name_prefix}-dagster-code"
  image   = docker_image.gradewatch.image_id
  command = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "gradewatch_assets.definitions", "--location-name", "gradewatch"]
  env     = [for k, v in local.dagster_env : "${k}=${v}"]
  memory  = var.memory_mb.dagster_code
  restart = "unless-stopped"
  init    = true

  capabilities {
    drop = ["ALL"]
  }
  security_opts         = ["no-new-privileges:true"]
  log_driver            = "json-file"
  log_opts              = local.log_opts
  destroy_grace_seconds = 60

  mounts {
    type   = "volume"
    source = docker_volume.dagster_storage.name
    target = "/opt/dagster/dagster_home/storage"
  }

  mounts {
    type   = "volume"
    source = docker_volume.inbox.name
    target = "/var/lib/gradewatch/inbox"
  }

  networks_advanced {
    name    = docker_network.backend.id
    aliases = ["dagster-code"]
  }

  # Outbound alert webhooks leave through `edge`.
  networks_advanced {
    name = docker_network.edge.id
  }

  healthcheck {
    test         = ["CMD", "dagster", "api", "grpc-health-check", "-p", "4000"]
    interval     = "15s"
    timeout      = "10s"
    retries      = 5
    start_period = "60s"
  }

  wait         = true
  wait_timeout = 300

  depends_on = [docker_container.migrate, docker_container.dagster_migrate]
}

resource "docker_container" "dagster_webserver" {
  name    = "${var.name_prefix}-dagster-webserver"
  image   = docker_image.gradewatch.image_id
  command = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "/opt/dagster/dagster_home/workspace.yaml"]
  env     = [for k, v in local.dagster_env : "${k}=${v}"]
  memory  = var.memory_mb.dagster_webserver
  restart = "unless-stopped"
  init    = true

  capabilities {
    drop = ["ALL"]
  }
  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  mounts {
    type   = "volume"
    source = docker_volume.dagster_storage.name
    target = "/opt/dagster/dagster_home/storage"
  }

  ports {
    internal = 3000
    external = var.ports.dagster
    ip       = var.admin_bind_address
  }

  networks_advanced {
    name = docker_network.backend.id
  }

  networks_advanced {
    name = docker_network.edge.id
  }

  healthcheck {
    test         = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/server_info', timeout=4)"]
    interval     = "30s"
    timeout      = "5s"
    retries      = 3
    start_period = "60s"
  }

  depends_on = [docker_container.dagster_code]
}

resource "docker_container" "dagster_daemon" {
  name    = "${var.name_prefix}-dagster-daemon"
  image   = docker_image.gradewatch.image_id
  command = ["dagster-daemon", "run", "-w", "/opt/dagster/dagster_home/workspace.yaml"]
  env     = [for k, v in local.dagster_env : "${k}=${v}"]
  memory  = var.memory_mb.dagster_daemon
  restart = "unless-stopped"
  init    = true

  capabilities {
    drop = ["ALL"]
  }
  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  mounts {
    type   = "volume"
    source = docker_volume.dagster_storage.name
    target = "/opt/dagster/dagster_home/storage"
  }

  networks_advanced {
    name = docker_network.backend.id
  }

  healthcheck {
    test         = ["CMD", "dagster-daemon", "liveness-check"]
    interval     = "60s"
    timeout      = "30s"
    retries      = 3
    start_period = "120s"
  }

  depends_on = [docker_container.dagster_code]
}
