import type { FastifyRequest } from "fastify";
import { principalOf } from "@fundament/kit";

export const SUBMIT_ROLE = "gpu:submit";
export const ADMIN_ROLE = "gpu:admin";
/** A caller works in a project when the users service gave it the role `gpu:project:<project>`. */
export const PROJECT_ROLE_PREFIX = "gpu:project:";

/** The projects the caller may see and act in; undefined means every project (gpu:admin). */
export function projectsOf(request: FastifyRequest): string[] | undefined {
  const { roles } = principalOf(request);
  if (roles.includes(ADMIN_ROLE)) return undefined;
  return roles.filter((role) => role.startsWith(PROJECT_ROLE_PREFIX)).map((role) => role.slice(PROJECT_ROLE_PREFIX.length));
}

export function mayUseProject(request: FastifyRequest, project: string): boolean {
  const projects = projectsOf(request);
  return projects === undefined || projects.includes(project);
}
