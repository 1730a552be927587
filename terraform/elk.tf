# Elasticsearch, Logstash, Kibana and the one-shot import of the Kibana objects. The files of
# elk/ are uploaded into the containers (see elk/README.md for what goes where). The Elastic
# images run as their unprivileged user (uid 1000) and curlimages/curl as curl_user (uid 100).

resource "docker_container" "elasticsearch" {
  name    = "${var.name_prefix}-elasticsearch"
  image   = docker_image.elasticsearch.image_id
  memory  = var.memory_mb.elasticsearch
  restart = "unless-stopped"

  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  upload {
    file    = "/usr/share/elasticsearch/config/elasticsearch.yml"
    content = file("${local.elk_dir}/elasticsearch/elasticsearch.yml")
  }

  # The 1 GB heap: half of the container's limit.
  upload {
    file    = "/usr/share/elasticsearch/config/jvm.options.d/heap.options"
    content = file("${local.elk_dir}/elasticsearch/jvm.options.d/heap.options")
  }

  mounts {
    type   = "volume"
    source = docker_volume.elasticsearch_data.name
    target = "/usr/share/elasticsearch/data"
  }

  ulimit {
    name = "nofile"
    soft = 65535
    hard = 65535
  }

  networks_advanced {
    name    = docker_network.backend.id
    aliases = ["elasticsearch"]
  }

  healthcheck {
    test         = ["CMD", "curl", "--silent", "--fail", "--max-time", "8", "http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=5s"]
    interval     = "15s"
    timeout      = "10s"
    retries      = 20
    start_period = "60s"
  }

  wait         = true
  wait_timeout = 300
}

resource "docker_container" "logstash" {
  name    = "${var.name_prefix}-logstash"
  image   = docker_image.logstash.image_id
  memory  = var.memory_mb.logstash
  restart = "unless-stopped"
  env = [
    "ELASTICSEARCH_URL=http://elasticsearch:9200",
    "LOGSTASH_TCP_PORT=5959",
    "LS_JAVA_OPTS=-Xms512m -Xmx512m",
  ]

  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  # Uploaded over the image's default pipeline file, which would otherwise be loaded too.
  upload {
    file    = "/usr/share/logstash/pipeline/logstash.conf"
    content = file("${local.elk_dir}/logstash/pipeline/gradewatch.conf")
  }

  upload {
    file    = "/usr/share/logstash/config/logstash.yml"
    content = file("${local.elk_dir}/logstash/config/logstash.yml")
  }

  upload {
    file    = "/usr/share/logstash/templates/gradewatch.json"
    content = file("${local.elk_dir}/elasticsearch/index-template.json")
  }

  mounts {
    type   = "volume"
    source = docker_volume.logstash_data.name
    target = "/usr/share/logstash/data"
  }

  networks_advanced {
    name    = docker_network.backend.id
    aliases = ["logstash"]
  }

  healthcheck {
    test         = ["CMD", "curl", "--silent", "--fail", "--max-time", "8", "http://127.0.0.1:9600/"]
    interval     = "15s"
    timeout      = "10s"
    retries      = 20
    start_period = "60s"
  }

  depends_on = [docker_container.elasticsearch]
}

resource "docker_container" "kibana" {
  name    = "${var.name_prefix}-kibana"
  image   = docker_image.kibana.image_id
  memory  = var.memory_mb.kibana
  restart = "unless-stopped"
  env     = ["NODE_OPTIONS=--max-old-space-size=700"]

  security_opts = ["no-new-privileges:true"]
  log_driver    = "json-file"
  log_opts      = local.log_opts

  upload {
    file    = "/usr/share/kibana/config/kibana.yml"
    content = file("${local.elk_dir}/kibana/kibana.yml")
  }

  ports {
    internal = 5601
    external = var.ports.kibana
    ip       = var.admin_bind_address
  }

  networks_advanced {
    name    = docker_network.backend.id
    aliases = ["kibana"]
  }

  networks_advanced {
    name = docker_network.edge.id
  }

  healthcheck {
    test         = ["CMD", "curl", "--silent", "--fail", "--max-time", "8", "http://127.0.0.1:5601/api/status"]
    interval     = "15s"
    timeout      = "10s"
    retries      = 40
    start_period = "120s"
  }

  wait         = true
  wait_timeout = 600

  depends_on = [docker_container.elasticsearch]
}

# One-shot: data views, saved searches and the dashboard (elk/kibana/import.sh).
resource "docker_container" "kibana_import" {
  name       = "${var.name_prefix}-kibana-import"
  image      = docker_image.curl.image_id
  entrypoint = ["sh", "/import/import.sh"]
  env        = ["KIBANA_URL=http://kibana:5601"]
  memory     = 128
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
    file       = "/import/import.sh"
    content    = file("${local.elk_dir}/kibana/import.sh")
    executable = true
  }

  upload {
    file    = "/import/saved_objects.ndjson"
    content = file("${local.elk_dir}/kibana/saved_objects.ndjson")
  }

  networks_advanced {
    name = docker_network.backend.id
  }

  lifecycle {
    postcondition {
      condition     = self.exit_code == 0
      error_message = "the Kibana import failed; read its output with: docker logs ${var.name_prefix}-kibana-import"
    }
    # A new version of the saved objects re-runs the import.
    replace_triggered_by = [terraform_data.kibana_objects]
  }

  depends_on = [docker_container.kibana]
}

resource "terraform_data" "kibana_objects" {
  input = sha256(join("", [
    file("${local.elk_dir}/kibana/import.sh"),
    file("${local.elk_dir}/kibana/saved_objects.ndjson"),
  ]))
}
