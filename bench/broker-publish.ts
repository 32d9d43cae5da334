// Confirmed persistent publishes per second: the messaging module against a raw amqplib confirm
// channel, same broker, same payloads, same number in flight, rounds alternating in one run.
// `npm run bench -- broker-publish [messagesPerRound] [rounds]`; last line `broker-publish: ratio X.XX`
// (module / raw, the median over rounds).
import { connect, type Channel, type ConfirmChannel } from "amqplib";
import { defineMessage, Messaging } from "../services/kit/src/messaging";
import { startBroker } from "../services/kit/test/messaging/broker-node";
import { numericSetting } from "./support/bench-settings";
import { median } from "./support/statistics";

interface AuditRecorded {
  index: number;
  actor: string;
  action: string;
}

const auditRecorded = defineMessage<AuditRecorded>({
  name: "audit.recorded",
  exchange: "events",
  routingKey: "audit.recorded",
  schema: {
    type: "object",
    required: ["index", "actor", "action"],
    properties: { index: { type: "integer" }, actor: { type: "string" }, action: { type: "string" } },
    additionalProperties: false,
  },
});

// Positional, as the header shows; checked like the other benches' BENCH_* knobs.
const ARGUMENTS = { messagesPerRound: process.argv[2], rounds: process.argv[3] };
const MESSAGES = numericSetting("messagesPerRound", 5000, {}, ARGUMENTS);
const ROUNDS = numericSetting("rounds", 8, {}, ARGUMENTS);
/** Unconfirmed publishes allowed at once, for both sides. */
const IN_FLIGHT = 200;

function payload(index: number): AuditRecorded {
  return { index, actor: `user-${index % 97}`, action: "document.updated" };
}

/** Runs `publishOne` for every index with at most IN_FLIGHT outstanding; returns messages per second. */
async function measure(publishOne: (index: number) => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  let next = 0;
  const lane = async () => {
    while (next < MESSAGES) {
      const index = next;
      next += 1;
      await publishOne(index);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return MESSAGES / seconds;
}

function rawPublish(channel: ConfirmChannel, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(
      "events",
      "audit.recorded",
      Buffer.from(JSON.stringify(payload(index))),
      { persistent: true, contentType: "application/json", type: "audit.recorded", messageId: `raw-${index}`, mandatory: true },
      (error: unknown) => (error ? reject(new Error(String(error))) : resolve()),
    );
  });
}

async function main(): Promise<void> {
  const broker = await startBroker();
  const operatorConnection = await connect(broker.url("admin"), broker.socketOptions);
  const operator: Channel = await operatorConnection.createChannel();
  const rawConnection = await connect(broker.url("users"), broker.socketOptions);
  const raw = await rawConnection.createConfirmChannel();
  const messaging = await Messaging.connect({ endpoint: broker.endpoint("users"), prefetch: 1 });
  try {
    // Warm both paths (JIT, quorum queue leader, channels) before anything is timed.
    await measure((index) => rawPublish(raw, index));
    await measure((index) => messaging.publish(auditRecorded, payload(index)));
    await operator.purgeQueue("audit.records");

    const moduleRates: number[] = [];
    const rawRates: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      // Alternate which side goes first so drift in machine load falls on both.
      const order = round % 2 === 0 ? (["module", "raw"] as const) : (["raw", "module"] as const);
      for (const side of order) {
        const rate = side === "module" ? await measure((index) => messaging.publish(auditRecorded, payload(index))) : await measure((index) => rawPublish(raw, index));
        (side === "module" ? moduleRates : rawRates).push(rate);
        console.log(`round ${round + 1} ${side.padEnd(6)} ${rate.toFixed(0)} msg/s`);
        await operator.purgeQueue("audit.records");
      }
    }
    // The machine's load drifts between rounds; the two sides of one round ran back to back, so
    // the median of per-round ratios is steadier than the ratio of the overall medians.
    const ratios = moduleRates.map((rate, round) => rate / (rawRates[round] as number));
    console.log(`${MESSAGES} persistent confirmed messages per round, ${IN_FLIGHT} in flight, ${ROUNDS} rounds each`);
    console.log(`messaging module: median ${median(moduleRates).toFixed(0)} msg/s`);
    console.log(`raw amqplib confirm channel: median ${median(rawRates).toFixed(0)} msg/s`);
    console.log(`per-round ratios: ${ratios.map((ratio) => ratio.toFixed(2)).join(" ")}`);
    console.log(`broker-publish: ratio ${median(ratios).toFixed(2)}`);
  } finally {
    await messaging.close();
    await rawConnection.close().catch(() => undefined);
    await operatorConnection.close().catch(() => undefined);
    await broker.node.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
