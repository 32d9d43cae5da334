/** One parsed server-sent event. */
export interface ServerSentEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** Reads a text/event-stream response as it arrives; `events` grows, `ended` resolves at EOF. */
export interface EventStreamReader {
  readonly status: number;
  readonly contentType: string | null;
  readonly events: ServerSentEvent[];
  readonly ended: Promise<void>;
  close(): void;
}

export async function readEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStreamReader> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: abort.signal });
  const events: ServerSentEvent[] = [];
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let boundary = buffer.indexOf("\n\n");
        while (boundary >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const event: ServerSentEvent = { id: undefined, event: "message", data: "" };
          let isEvent = false;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const [field, ...rest] = line.split(":");
            const value = rest.join(":").replace(/^ /, "");
            if (field === "id") event.id = value;
            else if (field === "event") event.event = value;
            else if (field === "data") event.data = event.data === "" ? value : `${event.data}\n${value}`;
            else continue;
            isEvent = true;
          }
          if (isEvent && (event.data !== "" || event.event !== "message")) events.push(event);
          boundary = buffer.indexOf("\n\n");
        }
      }
    } catch (error) {
      if ((error as Error).name !== "AbortError") throw error;
    }
  })();
  return { status: response.status, contentType: response.headers.get("content-type"), events, ended, close: () => abort.abort() };
}
