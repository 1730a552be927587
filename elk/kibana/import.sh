#!/bin/sh
# One-shot import of GradeWatch's Kibana saved objects: the data views, the saved searches
# "Alerts", "Errors" and "Uploads", and the dashboard "GradeWatch operations".
#
# Waits until Kibana answers, then POSTs saved_objects.ndjson to the saved objects import
# API with overwrite=true, so running it again after an upgrade is safe. Exits non-zero if
# Kibana never came up or the import reports a failure. Needs only sh and curl (the
# curlimages/curl image has both).
#
#   KIBANA_URL            default http://kibana:5601
#   SAVED_OBJECTS_FILE    default saved_objects.ndjson next to this script
#   KIBANA_WAIT_SECONDS   default 300, polling every KIBANA_POLL_SECONDS (default 5)
#   KIBANA_USER, KIBANA_PASSWORD   only when Elasticsearch security is turned on
set -eu

KIBANA_URL="${KIBANA_URL:-http://kibana:5601}"
SAVED_OBJECTS_FILE="${SAVED_OBJECTS_FILE:-$(dirname "$0")/saved_objects.ndjson}"
KIBANA_WAIT_SECONDS="${KIBANA_WAIT_SECONDS:-300}"
KIBANA_POLL_SECONDS="${KIBANA_POLL_SECONDS:-5}"

if [ -n "${KIBANA_USER:-}" ]; then
    set -- --user "${KIBANA_USER}:${KIBANA_PASSWORD:-}"
else
    set --
fi

if [ ! -r "$SAVED_OBJECTS_FILE" ]; then
    echo "import.sh: cannot read $SAVED_OBJECTS_FILE" >&2
    exit 2
fi

# /api/status answers 503 until Kibana is ready to serve.
waited=0
until curl --silent --fail --max-time 10 --output /dev/null "$@" "$KIBANA_URL/api/status"; do
    if [ "$waited" -ge "$KIBANA_WAIT_SECONDS" ]; then
        echo "import.sh: Kibana at $KIBANA_URL not ready after ${KIBANA_WAIT_SECONDS}s" >&2
        exit 1
    fi
    sleep "$KIBANA_POLL_SECONDS"
    waited=$((waited + KIBANA_POLL_SECONDS))
done

response=$(curl --silent --show-error --max-time 60 "$@" \
    --request POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" \
    --header "kbn-xsrf: true" \
    --form "file=@${SAVED_OBJECTS_FILE}")
echo "$response"

if printf '%s' "$response" | grep -Eq '"success" *: *true'; then
    echo "import.sh: GradeWatch saved objects imported into $KIBANA_URL"
else
    echo "import.sh: the import failed; see Kibana's answer above" >&2
    exit 1
fi
