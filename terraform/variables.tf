# ---- where ----

variable "docker_host" {
  description = "Docker host of the school's server, over SSH, e.g. ssh://deploy@gradewatch.school.internal:22."
  type        = string

  validation {
    condition     = can(regex("^(ssh|tcp|unix)://", var.docker_host))
    error_message = "docker_host must start with ssh://, tcp:// or unix:// (ssh:// on site)."
  }
}

variable "ssh_opts" {
  description = "Extra options for the SSH connection to the Docker host (the host key must already be known)."
  type        = list(string)
  default     = ["-o", "StrictHostKeyChecking=yes", "-o", "ServerAliveInterval=30"]
}

variable "public_hostname" {
  description = "Name under which staff reach the server, used in the output URLs."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every container, network and volume name."
  type        = string
  default     = "gradewatch"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix: lower-case letters, digits and dashes, starting with a letter."
  }
}

# ---- what ----

variable "image_repository" {
  description = "Repository of the GradeWatch image (built on the host by the deploy workflow, or in the school's registry)."
  type        = string
  default     = "gradewatch"
}

variable "image_tag" {
  description = "Tag of the GradeWatch image to run, e.g. the git commit the deploy workflow built."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a real tag (not latest), so that every apply is reproducible."
  }
}

variable "elastic_version" {
  description = "Version of Elasticsearch, Logstash and Kibana (the same for all three; elk/ is written for 8.x)."
  type        = string
  default     = "8.15.3"

  validation {
    condition     = can(regex("^8\\.[0-9]+\\.[0-9]+$", var.elastic_version))
    error_message = "elastic_version must be an exact 8.x.y version."
  }
}

# ---- secrets (hex recommended: openssl rand -hex 32) ----

variable "postgres_password" {
  description = "Password of the PostgreSQL superuser (used only by the db-init container)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.postgres_password) >= 24 && can(regex("^[A-Za-z0-9]+$", var.postgres_password))
    error_message = "postgres_password: at least 24 letters or digits (it goes into a database URL)."
  }
}

variable "gradewatch_db_password" {
  description = "Password of the application's database role `gradewatch`."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.gradewatch_db_password) >= 24 && can(regex("^[A-Za-z0-9]+$", var.gradewatch_db_password))
    error_message = "gradewatch_db_password: at least 24 letters or digits (it goes into a database URL)."
  }
}

variable "dagster_pg_password" {
  description = "Password of Dagster's database role `dagster`."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.dagster_pg_password) >= 24 && can(regex("^[A-Za-z0-9]+$", var.dagster_pg_password))
    error_message = "dagster_pg_password: at least 24 letters or digits."
  }
}

variable "secret_key" {
  description = "GRADEWATCH_SECRET_KEY: signs the web pages' session cookie."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.secret_key) >= 32
    error_message = "secret_key: at least 32 characters."
  }
}

variable "alert_webhook_url" {
  description = "GRADEWATCH_ALERT_WEBHOOK_URL: alerts are also POSTed here as JSON (empty: no webhook). It may carry a token."
  type        = string
  default     = ""
  sensitive   = true
}

# ---- settings (gradewatch/settings.py) ----

variable "settings" {
  description = "GradeWatch settings; anything left out keeps the default of gradewatch/settings.py."
  type = object({
    environment                   = optional(string, "production")
    log_level                     = optional(string, "INFO")
    pass_mark                     = optional(number, 60)
    max_upload_mb                 = optional(number, 100)
    alert_dedup_minutes           = optional(number, 60)
    inbox_keep_originals          = optional(bool, false)
    inbox_rejected_retention_days = optional(number, 14)
    grades_grace_days             = optional(number, 14)
    min_grade_coverage            = optional(number, 0.8)
    accuracy_tolerance            = optional(number, 1.25)
    training_profile              = optional(string, "full")
    sensor_interval_seconds       = optional(number, 30)
    session_cookie_secure         = optional(bool, true)
    baseline_min_gain             = optional(number, 0.02)
    model_excluded_features       = optional(string, "gender")
    retrain_growth                = optional(number, 0.5)
    fairness_max_gap              = optional(number, 0.1)
    risk_tiers                    = optional(string, "0.5,0.2")
    upload_wait_seconds           = optional(number, 120)
    max_predict_mb                = optional(number, 10)
    user_id_pattern               = optional(string, "") # empty: the default documented in README.md
  })
  default = {}

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.settings.log_level)
    error_message = "settings.log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }

  validation {
    condition     = contains(["full", "quick"], var.settings.training_profile)
    error_message = "settings.training_profile must be full or quick."
  }
}

# ---- ports: only these three are published ----

variable "webapp_bind_address" {
  description = "Host address the web app's port listens on (it has token authentication; put TLS in front of it)."
  type        = string
  default     = "0.0.0.0"
}

variable "admin_bind_address" {
  description = "Host address of the Dagster UI and Kibana, which have no login: keep 127.0.0.1 (SSH tunnel) unless an authenticating proxy is in front."
  type        = string
  default     = "127.0.0.1"
}

variable "ports" {
  description = "Host ports of the web app, the Dagster UI and Kibana."
  type = object({
    webapp  = optional(number, 5000)
    dagster = optional(number, 3000)
    kibana  = optional(number, 5601)
  })
  default = {}
}

# ---- memory limits in MiB, sized for one 16 GiB server (12.5 GiB for the long-running ones) ----

variable "memory_mb" {
  description = "Memory limit of each container, in MiB."
  type = object({
    postgres          = optional(number, 1536)
    webapp            = optional(number, 2048)
    dagster_code      = optional(number, 3584)
    dagster_webserver = optional(number, 1024)
    dagster_daemon    = optional(number, 512)
    elasticsearch     = optional(number, 2048)
    logstash          = optional(number, 1024)
    kibana            = optional(number, 1024)
    one_shot          = optional(number, 512)
  })
  default = {}
}
