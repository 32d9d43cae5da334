import { posix } from "node:path";

/**
 * Directories that carry a read-only container's files on Docker.
 *
 * The provider creates a container, then extracts each upload with PUT /containers/{id}/archive
 * at path "/", then starts it. The engine refuses that extraction whenever the container's root
 * is read-only, even for a file that would land on a writable volume, because it checks the
 * extraction path ("/"), not the file's. So a read-only container receives its files through
 * volumes: a never-started "files" container with the same image mounts them writable and takes
 * the uploads; the server mounts the same volumes read-only at the same paths.
 */
export interface FileVolumeDirectory {
  /** Absolute directory inside the container. */
  path: string;
  /** Name fragment for the volume: the path with its separators replaced. */
  slug: string;
}

/**
 * The fewest directories that hold every file: each file's directory, dropping any that lies
 * inside another. A volume hides what the image has at its path until Docker copies the image's
 * content into the empty volume on first mount, so a top-level directory (/etc, /run, ...) is
 * refused: it would freeze a copy of half the image.
 */
export function fileVolumeDirectories(workload: string, filePaths: readonly string[], storagePaths: readonly string[] = []): FileVolumeDirectory[] {
  const problems: string[] = [];
  const directories = [...new Set(filePaths.map((path) => posix.dirname(posix.normalize(path))))].sort();
  for (const path of filePaths) {
    if (!posix.isAbsolute(path)) problems.push(`workload ${workload}: file ${path} must be an absolute path`);
  }
  const kept: string[] = [];
  for (const directory of directories) {
    if (kept.some((outer) => isInside(directory, outer))) continue;
    kept.push(directory);
  }
  for (const directory of kept) {
    if (directory.split("/").filter(Boolean).length < 2) {
      problems.push(
        `workload ${workload}: files in ${directory} cannot reach a read-only container on Docker (they travel in a volume mounted at their directory, and ${directory} is a top-level directory of the image); put them in a directory of their own, e.g. ${posix.join(directory === "/" ? "/etc" : directory, workload)}`,
      );
    }
    for (const storage of storagePaths) {
      if (isInside(directory, storage) || isInside(storage, directory)) {
        problems.push(`workload ${workload}: files in ${directory} overlap its storage at ${storage}; keep files and data in separate directories`);
      }
    }
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return kept.map((path) => ({ path, slug: path.split("/").filter(Boolean).join("-").replace(/[^A-Za-z0-9_.-]/g, "_") }));
}

function isInside(path: string, directory: string): boolean {
  return path === directory || path.startsWith(directory.endsWith("/") ? directory : `${directory}/`);
}
