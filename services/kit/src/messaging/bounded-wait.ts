/**
 * Waits for `operation` at most `ms`, never rejecting. amqplib's channel.close(), cancel() and
 * connection.close() can stay pending forever when the socket dies while they wait for the
 * broker's reply; shutdown must finish anyway.
 */
export async function settleWithin(operation: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([operation.then(
    () => undefined,
    () => undefined,
  ), timeout]);
  clearTimeout(timer);
}
