terraform {
  # optional() attributes with defaults in object variables and lifecycle postconditions.
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    docker = {
      source = "kreuzwerker/docker"
      # Pinned: the 3.0 series (upload, wait, healthcheck, capabilities, networks_advanced).
      # After the first `terraform init`, commit .terraform.lock.hcl so that every operator
      # gets the same provider build (checksums).
      version = "~> 3.0.2"
    }
  }
}

# The school's Docker host, reached over SSH as a user in its `docker` group, e.g.
#   docker_host = "ssh://deploy@gradewatch.school.internal:22"
# The SSH key comes from the operator's ssh-agent or ~/.ssh/config; no secret is stored here.
provider "docker" {
  host     = var.docker_host
  ssh_opts = var.ssh_opts
}
