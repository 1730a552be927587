output "webapp_url" {
  description = "The web app (upload page and API)."
  value       = "http://${var.public_hostname}:${var.ports.webapp}/"
}

output "health_url" {
  description = "GET /health: 200 when the database is reachable and migrated."
  value       = "http://${var.public_hostname}:${var.ports.webapp}/health"
}

output "dagster_ui_url" {
  description = "The Dagster UI (bound to admin_bind_address; through an SSH tunnel when that is 127.0.0.1)."
  value       = "http://${var.admin_bind_address}:${var.ports.dagster}/"
}

output "kibana_url" {
  description = "Kibana (bound to admin_bind_address; through an SSH tunnel when that is 127.0.0.1)."
  value       = "http://${var.admin_bind_address}:${var.ports.kibana}/"
}

output "ssh_tunnel" {
  description = "Opens the Dagster UI and Kibana on this machine's 127.0.0.1 when they listen on the server's loopback."
  value       = "ssh -N -L ${var.ports.dagster}:127.0.0.1:${var.ports.dagster} -L ${var.ports.kibana}:127.0.0.1:${var.ports.kibana} ${var.public_hostname}"
}

output "image" {
  description = "The GradeWatch image running on the host."
  value       = local.image
}
