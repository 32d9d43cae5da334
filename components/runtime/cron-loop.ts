import { CRON_FIELDS } from "../config/cron";

/**
 * Docker has no CronJob. A scheduled job on Docker is a small long-running container whose
 * shell loop runs the job whenever the schedule matches. The cron expression is expanded here,
 * at render time, into explicit value lists, so the shell only tests list membership.
 */

/** The values one cron field matches, in ascending order (day of week 7 folds onto 0). */
export function expandCronField(spec: string, index: number): number[] {
  const { min, max } = CRON_FIELDS[index];
  const values = new Set<number>();
  for (const part of spec.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo: number;
    let hi: number;
    if (range === "*") {
      [lo, hi] = [min, max];
    } else if (range.includes("-")) {
      [lo, hi] = range.split("-").map(Number) as [number, number];
    } else {
      lo = Number(range);
      hi = stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) values.add(index === 4 && v === 7 ? 0 : v);
  }
  return [...values].sort((a, b) => a - b);
}

function quoteShell(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A POSIX sh script that runs `command` at every minute the (valid) cron expression matches, UTC. */
export function renderCronLoop(schedule: string, command: string[]): string {
  const fields = schedule.trim().split(/\s+/);
  const lists = fields.map((spec, i) => ` ${expandCronField(spec, i).join(" ")} `);
  // Standard cron: when both day fields are restricted, either one matching is enough.
  const dayEither = fields[2] !== "*" && fields[4] !== "*" ? 1 : 0;
  return [
    "#!/bin/sh",
    `# schedule (UTC): ${schedule}`,
    "set -u",
    `minutes='${lists[0]}'`,
    `hours='${lists[1]}'`,
    `days='${lists[2]}'`,
    `months='${lists[3]}'`,
    `weekdays='${lists[4]}'`,
    `day_either=${dayEither}`,
    "in_list() { case \"$2\" in *\" $1 \"*) return 0;; *) return 1;; esac; }",
    "strip() { v=${1#0}; echo \"${v:-0}\"; }",
    "trap 'exit 0' TERM INT",
    "last=''",
    "while :; do",
    "  set -- $(date -u '+%M %H %d %m %w %Y%m%d%H%M')",
    "  m=$(strip \"$1\"); h=$(strip \"$2\"); d=$(strip \"$3\"); mo=$(strip \"$4\"); w=$5; stamp=$6",
    "  day_ok=1",
    "  if [ \"$day_either\" = 1 ]; then",
    "    in_list \"$d\" \"$days\" || in_list \"$w\" \"$weekdays\" || day_ok=0",
    "  else",
    "    in_list \"$d\" \"$days\" && in_list \"$w\" \"$weekdays\" || day_ok=0",
    "  fi",
    "  if [ \"$stamp\" != \"$last\" ] && [ \"$day_ok\" = 1 ] && in_list \"$m\" \"$minutes\" && in_list \"$h\" \"$hours\" && in_list \"$mo\" \"$months\"; then",
    "    last=$stamp",
    `    echo "scheduled run at $stamp"`,
    `    if ${command.map(quoteShell).join(" ")}; then echo "scheduled run $stamp succeeded"; else echo "scheduled run $stamp failed: exit $?" >&2; fi`,
    "  fi",
    "  sleep 15 & wait $!",
    "done",
    "",
  ].join("\n");
}
