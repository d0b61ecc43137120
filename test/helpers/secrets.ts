import type { SecretsConfig } from "../../src/secrets/model.ts";

/** [secrets] options for resolver tests: every cloud endpoint points at a closed loopback port unless overridden. */
export const opts = (over: Partial<SecretsConfig> = {}): SecretsConfig => ({
  k8s_root: "/etc/secrets",
  aws_imds_endpoint: "http://127.0.0.1:1",
  aws_ecs_endpoint: "http://127.0.0.1:1",
  gcp_secretmanager_endpoint: "http://127.0.0.1:1",
  gcp_metadata_url: "http://127.0.0.1:1",
  timeout: "2s",
  ...over,
});
