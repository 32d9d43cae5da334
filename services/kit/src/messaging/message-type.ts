import Ajv, { AnySchema, ErrorObject, ValidateFunction } from "ajv";

export type MessageExchange = "events" | "commands";

export interface MessageTypeSpec {
  /** Travels as the AMQP `type` property; a consumer refuses messages of another type. */
  name: string;
  exchange: MessageExchange;
  routingKey: string;
  /** JSON Schema (draft-07, as ajv 8 reads it) for the payload. */
  schema: AnySchema;
}

/** A message type with its compiled schema; `T` is the payload type the schema describes. */
export interface MessageType<T> extends MessageTypeSpec {
  readonly validate: ValidateFunction<T>;
}

/** Raised for a payload that does not match its schema, before anything is sent. */
export class MessageValidationError extends Error {
  constructor(
    readonly messageType: string,
    readonly problems: string[],
  ) {
    super(`message ${messageType}: ${problems.join("; ")}`);
    this.name = "MessageValidationError";
  }
}

const sharedAjv = new Ajv({ allErrors: true, strict: true });

const MESSAGE_NAME = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$/;
const ROUTING_KEY = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/** Each problem as `<field>: <reason>`, the field a JSON pointer into the payload (`/` for the whole payload). */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((error) => {
    const field = error.keyword === "required" ? `${error.instancePath}/${String(error.params.missingProperty)}` : error.instancePath || "/";
    const reason = error.keyword === "required" ? "is required" : error.keyword === "additionalProperties" ? `unknown property ${JSON.stringify(error.params.additionalProperty)}` : (error.message ?? error.keyword);
    return `${field}: ${reason}`;
  });
}

/**
 * Declares a message type and compiles its schema once. Pass an Ajv instance configured with
 * formats (ajv-formats) when the schema uses `format`; the shared one is strict and has none.
 */
export function defineMessage<T>(spec: MessageTypeSpec, ajv: Ajv = sharedAjv): MessageType<T> {
  const problems: string[] = [];
  if (!MESSAGE_NAME.test(spec.name)) problems.push(`name: must match ${MESSAGE_NAME.source} (got ${JSON.stringify(spec.name)})`);
  if (spec.exchange !== "events" && spec.exchange !== "commands") problems.push(`exchange: must be events or commands (got ${JSON.stringify(spec.exchange)})`);
  if (!ROUTING_KEY.test(spec.routingKey)) {
    problems.push(`routingKey: must be a dotted lowercase key without wildcards (got ${JSON.stringify(spec.routingKey)})`);
  }
  if (problems.length > 0) throw new Error(`message type ${JSON.stringify(spec.name)}: ${problems.join("; ")}`);
  let validate: ValidateFunction<T>;
  try {
    validate = ajv.compile<T>(spec.schema);
  } catch (error) {
    throw new Error(`message type ${spec.name}: schema: ${(error as Error).message}`);
  }
  return { ...spec, validate };
}

/** The payload as bytes, or a MessageValidationError naming each bad field. */
export function encodeMessage<T>(type: MessageType<T>, payload: T): Buffer {
  if (!type.validate(payload)) throw new MessageValidationError(type.name, describeSchemaErrors(type.validate.errors));
  return Buffer.from(JSON.stringify(payload), "utf8");
}

export type Decoded<T> = { ok: true; payload: T } | { ok: false; reason: string };

/** Parses and validates a delivered body; never throws, so a bad message cannot stop a consumer. */
export function decodePayload<T>(type: MessageType<T>, body: Buffer): Decoded<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    return { ok: false, reason: `malformed JSON: ${(error as Error).message}` };
  }
  if (!type.validate(parsed)) return { ok: false, reason: `schema-invalid ${type.name}: ${describeSchemaErrors(type.validate.errors).join("; ")}` };
  return { ok: true, payload: parsed };
}
