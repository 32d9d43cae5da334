import { join } from "node:path";

/** The numbered .sql files: one level up from src/ in the tree and from dist/ in the image. */
export const MIGRATIONS_DIR = join(__dirname, "..", "migrations");
