#!/bin/bash
# Run once by the minio-init service: the bucket, and a user each for the
# gateway and the processor with the policies of deploy/aws (their bucket
# name replaced by this one). Safe to run again.
set -euo pipefail
bucket=ttpgate
# MinIO's certificate is trusted through SSL_CERT_FILE.
for _ in {1..60}; do
  mc alias set local https://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1 && break
  sleep 1
done
mc ready local
mc mb --ignore-existing "local/$bucket"
for who in gateway processor; do
  policy=$(</policies/$who.json)
  printf '%s' "${policy//example-ttpgate-store/$bucket}" >"/tmp/$who.json"
  mc admin policy create local "ttpgate-$who" "/tmp/$who.json"
done
mc admin user add local "$GATEWAY_ACCESS_KEY" "$GATEWAY_SECRET_KEY"
mc admin user add local "$PROCESSOR_ACCESS_KEY" "$PROCESSOR_SECRET_KEY"
# attach fails when the policy is attached already; that is fine.
mc admin policy attach local ttpgate-gateway --user "$GATEWAY_ACCESS_KEY" || true
mc admin policy attach local ttpgate-processor --user "$PROCESSOR_ACCESS_KEY" || true
echo "minio-init: bucket $bucket and users ready"
