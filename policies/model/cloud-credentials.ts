/**
 * Files and settings of the cloud CLIs and SDKs that hold a credential of the account itself
 * (not of a server the platform runs): whoever reads one acts as that identity in AWS, GCP, Azure
 * or OCI, far beyond the cluster or host it leaked from.
 */

export type Cloud = "AWS" | "GCP" | "Azure" | "OCI";

interface CredentialFile {
  cloud: Cloud;
  what: string;
  /** The file's name, as a ConfigMap key or an uploaded file's last path segment. */
  name: RegExp;
  /** The directory the CLI keeps it in, when the name alone is too common to tell (`config`). */
  directory?: RegExp;
}

const FILES: readonly CredentialFile[] = [
  { cloud: "AWS", what: "the AWS CLI's shared credentials file", name: /^credentials$/i },
  { cloud: "AWS", what: "an AWS secret access key", name: /^aws_secret_access_key$/i },
  { cloud: "AWS", what: "an AWS session token", name: /^aws_session_token$/i },
  { cloud: "AWS", what: "the AWS CLI's config (SSO and credential_process settings)", name: /^config$/i, directory: /(^|\/)\.aws\/$/ },
  { cloud: "GCP", what: "gcloud's application default credentials", name: /^application_default_credentials\.json$/i },
  { cloud: "GCP", what: "gcloud's credential store", name: /^(credentials\.db|access_tokens\.db|legacy_credentials)$/i },
  { cloud: "Azure", what: "the Azure CLI's profile (accounts and tenants of the signed-in user)", name: /^azureProfile\.json$/i },
  { cloud: "Azure", what: "the Azure CLI's token cache", name: /^accessTokens\.json$/i },
  { cloud: "Azure", what: "the Azure CLI's MSAL token cache", name: /^msal_token_cache(\.json|\.bin)?$/i },
  { cloud: "Azure", what: "the Azure CLI's service principal secrets", name: /^service_principal_entries\.(json|bin)$/i },
  { cloud: "OCI", what: "an OCI API signing key", name: /^oci_api_key\.pem$/i },
  { cloud: "OCI", what: "the OCI CLI's key_file setting", name: /^key_file$/i },
  { cloud: "OCI", what: "the OCI CLI's config (user, fingerprint and key_file)", name: /^config$/i, directory: /(^|\/)\.oci\/$/ },
];

interface CredentialContent {
  cloud: Cloud;
  what: string;
  test(text: string): boolean;
}

const CONTENTS: readonly CredentialContent[] = [
  {
    cloud: "AWS",
    what: "an AWS shared credentials profile",
    test: (text) => /^\s*(aws_secret_access_key|aws_session_token)\s*=\s*\S/im.test(text),
  },
  {
    cloud: "GCP",
    what: "a GCP service-account key",
    test: (text) => /"type"\s*:\s*"service_account"/.test(text) && /"private_key"\s*:/.test(text),
  },
  {
    cloud: "GCP",
    what: "gcloud user credentials (a refresh token)",
    test: (text) => /"type"\s*:\s*"authorized_user"/.test(text) && /"refresh_token"\s*:/.test(text),
  },
  {
    cloud: "Azure",
    what: "an Azure CLI token cache",
    test: (text) => /"(AccessToken|RefreshToken)"\s*:\s*\{/.test(text) || /"accessToken"\s*:\s*"[^"]+"[\s\S]*"_authority"/.test(text),
  },
  {
    cloud: "OCI",
    what: "an OCI CLI config (user, fingerprint and key_file)",
    test: (text) => /^\s*fingerprint\s*=\s*\S/im.test(text) && /^\s*key_file\s*=\s*\S/im.test(text),
  },
];

export interface CloudCredential {
  cloud: Cloud;
  what: string;
}

/** What a file holds, judged by its path (`/root/.oci/config`) or a ConfigMap key (`credentials`). */
export function cloudCredentialFileName(path: string): CloudCredential | undefined {
  const slash = path.lastIndexOf("/");
  const directory = path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  const file = FILES.find((candidate) => candidate.name.test(name) && (candidate.directory === undefined || candidate.directory.test(directory)));
  return file ? { cloud: file.cloud, what: file.what } : undefined;
}

/** What a file's text shows it to be, whatever it is called. */
export function cloudCredentialContent(text: string): CloudCredential | undefined {
  const content = CONTENTS.find((candidate) => candidate.test(text));
  return content ? { cloud: content.cloud, what: content.what } : undefined;
}
