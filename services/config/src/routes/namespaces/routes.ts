import { ErrorBody, Type, actorOf } from "@fundament/kit";
import type { JsonObject } from "../../json-patch";
import { NotFoundError } from "../../config-errors";
import { NamespaceParams } from "../path-params";
import type { RouteContext } from "../route-context";
import { NamespaceBody, PutNamespaceBody } from "./schemas";

export function registerNamespaceRoutes({ readAccess, app, store, requireWriter }: RouteContext): void {
  app.get(
    "/namespaces/:namespace",
    { preHandler: readAccess, schema: { tags: ["namespaces"], summary: "A namespace and its JSON Schema", params: NamespaceParams, response: { 200: NamespaceBody, 404: ErrorBody } } },
    async (request) => {
      const namespace = await store.namespace(request.params.namespace);
      if (!namespace) throw new NotFoundError("params.namespace", `namespace ${request.params.namespace} does not exist`);
      return namespace;
    },
  );

  app.put(
    "/namespaces/:namespace",
    {
      preHandler: requireWriter,
      schema: {
        tags: ["namespaces"],
        summary: "Create a namespace or replace its schema; refused when current entries would break it",
        security: [{ bearer: [] }],
        params: NamespaceParams,
        body: PutNamespaceBody,
        response: { 200: NamespaceBody, 201: NamespaceBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const { namespace, created } = await store.putNamespace(request.params.namespace, request.body.schema as JsonObject, actor);
      return reply.status(created ? 201 : 200).send(namespace);
    },
  );

  app.get(
    "/namespaces",
    { preHandler: readAccess, schema: { tags: ["namespaces"], summary: "Names of all namespaces", response: { 200: Type.Object({ namespaces: Type.Array(Type.String()) }) } } },
    async () => ({ namespaces: await store.namespaceNames() }),
  );
}
