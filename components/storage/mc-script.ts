import { BucketPlan } from "./lifecycle-plan";

/** Where the bucket job finds what the script reads; all are files, the secrets among them secret files. */
export interface BucketSetupFiles {
  rootUser: string;
  rootPassword: string;
  writerAccessKey: string;
  writerSecretKey: string;
  writerPolicy: string;
  /** The ILM JSON of one bucket (only buckets with rules have one). */
  lifecycle: (bucket: string) => string;
}

export interface BucketSetupScriptInput {
  plans: BucketPlan[];
  files: BucketSetupFiles;
  /** Name of the MinIO policy attached to the backup writer. */
  writerPolicyName: string;
  /** `mc ready` attempts, two seconds apart, before the job gives up. */
  readyAttempts: number;
}

/** mc alias the script defines through MC_HOST_<alias>. */
export const MC_ALIAS = "fundament";
/** The job's environment names the MinIO API as host:port here. */
export const ENDPOINT_VARIABLE = "MINIO_ENDPOINT";

const SHELL_SAFE = /^[A-Za-z0-9_./:-]+$/;

function word(value: string): string {
  // Everything interpolated is a bucket name, a path or a policy name chosen by this code; a
  // value outside the safe set is a programming error, not something to quote around.
  if (!SHELL_SAFE.test(value)) throw new Error(`mc script: refusing to interpolate ${JSON.stringify(value)}`);
  return value;
}

function bucketLines(plan: BucketPlan, files: BucketSetupFiles): string[] {
  const target = `"$alias/${word(plan.name)}"`;
  const lines = [`# bucket ${plan.name}`, `mc mb --ignore-existing ${target}`];
  if (plan.versioning) {
    lines.push(`mc version enable ${target}`);
  } else {
    // Suspending a bucket that was never versioned would turn it into a "suspended" one; only
    // undo versioning that an earlier configuration switched on.
    lines.push(`case "$(mc version info --json ${target})" in *'"Enabled"'*) mc version suspend ${target} ;; esac`);
  }
  if (plan.rules.length > 0) {
    // import replaces the whole lifecycle configuration, so a second run converges to the same rules.
    lines.push(`mc ilm rule import ${target} < ${word(files.lifecycle(plan.name))}`);
  } else {
    lines.push(`if mc ilm rule export ${target} >/dev/null 2>&1; then mc ilm rule rm --all --force ${target}; fi`);
  }
  return lines;
}

/**
 * The POSIX sh script the bucket job runs with the mc image: idempotent, so the runtime may run
 * it again on every change. Secrets are read from files with the `read` builtin (the image is
 * ubi-micro: neither cat nor grep is relied on) and reach mc through MC_HOST_<alias>, so the root
 * credentials are neither in argv nor in an mc config file.
 */
export function renderBucketSetupScript(input: BucketSetupScriptInput): string {
  const { files } = input;
  const policy = word(input.writerPolicyName);
  return [
    "#!/bin/sh",
    "# Creates the buckets, their versioning and lifecycle, and the backup writer. Safe to run again.",
    "set -eu",
    `: "\${${ENDPOINT_VARIABLE}:?${ENDPOINT_VARIABLE} must name the MinIO API as host:port}"`,
    `alias=${MC_ALIAS}`,
    "# Secret files end without a newline, on which read fails although it has read the value.",
    "read_secret() {",
    '  value=""',
    '  IFS= read -r value < "$1" || [ -n "$value" ] || { echo "$1 is empty" >&2; return 1; }',
    "  printf '%s' \"$value\"",
    "}",
    `root_user=$(read_secret ${word(files.rootUser)})`,
    `root_password=$(read_secret ${word(files.rootPassword)})`,
    `MC_HOST_${MC_ALIAS}="http://\${root_user}:\${root_password}@\${${ENDPOINT_VARIABLE}}"`,
    `export MC_HOST_${MC_ALIAS}`,
    "",
    "attempt=0",
    'until mc ready "$alias" >/dev/null 2>&1; do',
    "  attempt=$((attempt + 1))",
    `  if [ "$attempt" -ge ${Math.max(1, Math.floor(input.readyAttempts))} ]; then`,
    `    echo "minio at \${${ENDPOINT_VARIABLE}} is not ready after $attempt attempts" >&2`,
    "    exit 1",
    "  fi",
    "  sleep 2",
    "done",
    "",
    ...input.plans.flatMap((plan) => [...bucketLines(plan, files), ""]),
    "# backup writer: a plain user holding only the backups policy. Not a service account of root:",
    "# the pinned server predates the fix for GHSA-jjjj-jwhf-8rgr, by which a service account with an",
    "# inline policy could mint unrestricted keys for its parent.",
    `writer_access_key=$(read_secret ${word(files.writerAccessKey)})`,
    `writer_secret_key=$(read_secret ${word(files.writerSecretKey)})`,
    `mc admin policy create "$alias" ${policy} ${word(files.writerPolicy)}`,
    // mc admin user add takes the secret as an argument; it is visible only inside this job's
    // own process table, and the job exits when the script does.
    'mc admin user add "$alias" "$writer_access_key" "$writer_secret_key"',
    "# Current mc skips a policy already attached; older releases fail with \"already in effect\".",
    `if ! attach_output=$(mc admin policy attach "$alias" ${policy} --user "$writer_access_key" 2>&1); then`,
    '  case "$attach_output" in',
    "    *already*) ;;",
    '    *) echo "$attach_output" >&2; exit 1 ;;',
    "  esac",
    "fi",
    'echo "buckets and backup writer are configured"',
    "",
  ].join("\n");
}
