// Entry point of `pulumi up` / `pulumi preview`: the module's export is the stack's outputs.
import { main } from "./program";

export = main();
