/** TypeBox model of [secrets]: where secret references are looked up (k8s mount root, AWS, GCP endpoints). */
import { Type, type Static } from "@sinclair/typebox";
import { Duration, HttpUrl, Section } from "../config/types.ts";

export const SecretsSection = Section(
  {
    k8s_root: Type.String({ minLength: 1, default: "/etc/secrets", description: "Root where Kubernetes Secrets are mounted; k8s:ns/name:key reads <root>/<ns>/<name>/<key>" }),
    aws_region: Type.Optional(Type.String({ minLength: 1, description: "AWS region for aws: references; else $AWS_REGION / $AWS_DEFAULT_REGION, or the region of an ARN" })),
    aws_secretsmanager_endpoint: Type.Optional(HttpUrl("Secrets Manager endpoint override (VPC endpoints, tests); default https://secretsmanager.<region>.amazonaws.com")),
    aws_sts_endpoint: Type.Optional(HttpUrl("STS endpoint for web-identity credentials; default https://sts.<region>.amazonaws.com")),
    aws_imds_endpoint: HttpUrl("EC2 instance metadata service (IMDSv2)", "http://169.254.169.254"),
    aws_ecs_endpoint: HttpUrl("ECS container credentials endpoint (for $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)", "http://169.254.170.2"),
    gcp_secretmanager_endpoint: HttpUrl("Google Secret Manager endpoint", "https://secretmanager.googleapis.com"),
    gcp_metadata_url: HttpUrl("GCE/GKE metadata server", "http://metadata.google.internal"),
    gcp_credentials_file: Type.Optional(Type.String({ minLength: 1, description: "Service-account key JSON; else $GOOGLE_APPLICATION_CREDENTIALS, else the metadata server" })),
    timeout: Duration("Timeout of one secret look-up (each HTTP call it makes)", "5s"),
  },
  "Secret-reference resolution",
  { default: {} },
);

export type SecretsConfig = Static<typeof SecretsSection>;
