import { rehearseDevStack } from "./dev-stack-rehearsal";
import { HOST_ENGINE } from "./private-engine";

// The machine's engine, Debian bookworm's docker.io 20.10 (API 1.41): the oldest a user meets.
rehearseDevStack(HOST_ENGINE);
