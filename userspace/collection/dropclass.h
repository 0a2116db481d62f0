/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * dropclass.h - which kernel drop reasons (skb:kfree_skb) mean a lost
 * packet. The kernel frees packets "with a reason" also when nothing was
 * lost: a closing socket purges its queues, and many paths still call
 * kfree_skb() without naming a reason. Only class "drop" is a lost packet.
 */
#ifndef KPULSE_DROPCLASS_H
#define KPULSE_DROPCLASS_H

/*
 * The class of a reason, named as the kernel's enum skb_drop_reason spells
 * it without SKB_DROP_REASON_ (e.g. "QUEUE_PURGE"):
 *   "teardown"    normal teardown: QUEUE_PURGE, SOCKET_CLOSE, TCP_CLOSE,
 *                 UNIX_DISCONNECT (queues freed as a socket closes);
 *   "unspecified" NOT_SPECIFIED (kfree_skb() without a reason: mostly not
 *                 a loss, sometimes one; no way to tell);
 *   "drop"        every other reason, including ones this table does not
 *                 know (a new kernel's reasons are drops until told apart).
 * Returns a static string.
 */
const char *drop_reason_class(const char *reason);

#endif /* KPULSE_DROPCLASS_H */
