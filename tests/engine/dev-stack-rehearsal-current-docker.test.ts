import { rehearseDevStack } from "./dev-stack-rehearsal";
import { TEST_ROOT_ENGINE } from "./private-engine";

// A current engine, Debian forky's docker.io (28.5 when this was written, API 1.51), with its own
// containerd 2 and runc, run from the forky test root: what most users of the dev stack run.
rehearseDevStack(TEST_ROOT_ENGINE);
