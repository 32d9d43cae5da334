/**
 * What each pinned image ships for probes. The facts live in the policy pack
 * (policies/model/image-programs.ts), which must stay self-contained, so the runtime that
 * renders probes and the rule that judges them read the same table.
 */
export { factsForImage, imageRepository, NODE_SERVICE_IMAGE_FACTS, type ImageFacts } from "../../policies/model/image-programs";
