/**
 * The shell every backup job shares (POSIX sh; the PostgreSQL, Redis and MongoDB images all have
 * dash and coreutils). A run writes into a hidden work directory that becomes a directory named
 * by its UTC timestamp only once complete, so a crash never leaves a half backup that looks
 * whole; after a complete run, all but the newest `retention` complete runs are deleted.
 */
export interface BackupRunInput {
  /** Names the job in its log lines. */
  job: string;
  backupDir: string;
  retention: number;
}

/** set -eu, the run's variables, log() and fail(), and the open work directory in "$work". */
export function backupRunOpen(input: BackupRunInput): string {
  return `set -eu

backup_dir='${input.backupDir}'
retention=${input.retention}

log() { printf '%s ${input.job}: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
`;
}

/** Creates "$work" (after checks the caller placed between backupRunOpen and this). */
export function backupRunWorkDir(): string {
  return `mkdir -p "$backup_dir"
# Work directories of runs that died are never a backup; only this job writes here.
rm -rf "$backup_dir"/.partial-*
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work="$backup_dir/.partial-$stamp-$$"
trap 'rm -rf "$work"' EXIT
mkdir "$work"
`;
}

/** Publishes "$work" as "$target", sets "$bytes", logs `summary` and applies the retention. */
export function backupRunClose(summary: string): string {
  return `bytes=$(( $(du -sk "$work" | cut -f1) * 1024 ))
target="$backup_dir/$stamp"
[ -e "$target" ] && target="$target-$$"
mv "$work" "$target"
trap - EXIT
log "${summary}, $bytes bytes, to $target"

# Names start with the UTC timestamp, so a reverse sort puts the newest first. This job names
# every entry here itself, so ls output is safe to read.
# shellcheck disable=SC2010
ls -1 "$backup_dir" | grep -E '^[0-9]{8}T[0-9]{6}Z' | sort -r | tail -n +$((retention + 1)) | while IFS= read -r old; do
  rm -rf "\${backup_dir:?}/$old"
  log "removed $old (retention $retention)"
done
`;
}
