/**
 * The script that copies finished PostgreSQL backups from the backup volume to object storage,
 * run with the MinIO client image (which speaks to MinIO and S3 alike). The PostgreSQL image has
 * no S3 client, so dumping and uploading are two jobs sharing the volume.
 */
export interface BackupUploadScriptInput {
  /** Directory of finished backups (one sub-directory per run, named by UTC timestamp). */
  sourceDir: string;
  /** Files holding the access key and secret key. */
  accessKeyFile: string;
  secretKeyFile: string;
  /** Object prefix in the bucket. */
  prefix: string;
}

const SAFE = /^[A-Za-z0-9_./-]+$/;

function word(value: string, what: string): string {
  if (!SAFE.test(value)) throw new Error(`backup upload script: ${what} ${JSON.stringify(value)} is not a plain path`);
  return value;
}

/**
 * POSIX sh using builtins only (the mc image is ubi-micro: no cat, sed or grep). Credentials
 * reach mc through MC_HOST_backups, percent-encoded (S3 secret keys hold / and +), so they are
 * never in argv or an mc config file. `mc mirror` uploads only what the bucket lacks; local
 * rotation does not delete uploaded backups: the bucket's lifecycle rule expires them.
 */
export function renderBackupUploadScript(input: BackupUploadScriptInput): string {
  const source = word(input.sourceDir, "sourceDir");
  const prefix = word(input.prefix, "prefix");
  return [
    "#!/bin/sh",
    "# Rendered by fundament (components/database/backups/backup-upload-script.ts).",
    "set -eu",
    ': "${S3_ENDPOINT:?S3_ENDPOINT must be the object storage URL}"',
    ': "${S3_BUCKET:?S3_BUCKET must name the backups bucket}"',
    "read_file() { value=''; IFS= read -r value < \"$1\" || [ -n \"$value\" ]; printf '%s' \"$value\"; }",
    "encode() {",
    "  rest=$1; out=''",
    "  while [ -n \"$rest\" ]; do",
    "    c=${rest%\"${rest#?}\"}; rest=${rest#?}",
    "    case $c in",
    "      [A-Za-z0-9._~-]) out=$out$c ;;",
    "      /) out=$out%2F ;; +) out=$out%2B ;; =) out=$out%3D ;; :) out=$out%3A ;; @) out=$out%40 ;; %) out=$out%25 ;;",
    "      *) echo \"backup upload: unexpected character in a credential\" >&2; exit 1 ;;",
    "    esac",
    "  done",
    "  printf '%s' \"$out\"",
    "}",
    `access_key=$(encode "$(read_file ${word(input.accessKeyFile, "accessKeyFile")})")`,
    `secret_key=$(encode "$(read_file ${word(input.secretKeyFile, "secretKeyFile")})")`,
    "scheme=${S3_ENDPOINT%%://*}; host=${S3_ENDPOINT#*://}",
    "MC_HOST_backups=\"$scheme://$access_key:$secret_key@$host\"",
    "export MC_HOST_backups",
    `if [ ! -d ${source} ]; then echo "backup upload: no backups in ${source} yet"; exit 0; fi`,
    // Unfinished runs live in .partial-* until the backup script renames them.
    `mc mirror --overwrite --exclude '.partial-*' --exclude '.partial-*/*' ${source} "backups/$S3_BUCKET/${prefix}"`,
    `echo "backup upload: ${source} mirrored to $S3_BUCKET/${prefix}"`,
    "",
  ].join("\n");
}
