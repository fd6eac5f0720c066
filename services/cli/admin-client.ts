// The Admin API client every operator command uses, aimed where --coordinator says.
import { Admin } from "../../libs/contracts/index.js";
import { createRpcClient, type RpcClient } from "../../libs/rpc/index.js";
import { checkedTarget } from "./endpoints.js";

export interface AdminTarget {
  readonly coordinator: string;
  /** Deadline of each call (--timeout). */
  readonly timeoutMs: number;
}

export type AdminClient = RpcClient<typeof Admin>;

export function adminClient(target: AdminTarget): AdminClient {
  return createRpcClient(Admin, checkedTarget(target.coordinator, "--coordinator"), {
    defaultDeadlineMs: target.timeoutMs,
  });
}

/** Runs `use` with a client that is closed afterwards, whatever happens. */
export async function withAdminClient<T>(
  target: AdminTarget,
  use: (client: AdminClient) => Promise<T>,
): Promise<T> {
  const client = adminClient(target);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}
