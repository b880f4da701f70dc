/*
 * cluster/slots.h — which of the 16384 slots a key belongs to.
 *
 * The slot is the cluster's unit of placement, replication, digests and
 * transfer (Dynamo's "Q equal partitions"). It is computed exactly as Redis
 * Cluster computes it, so CLUSTER KEYSLOT and every cluster-aware client
 * agree with us on where a key lives:
 *
 *     slot = CRC16(k) mod 16384
 *
 * where CRC16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no
 * reflection, no final xor) and k is the whole key, unless the key holds a
 * hash tag: if the key has a '{', and a '}' follows that first '{' with at
 * least one byte between them, k is the bytes between the first '{' and the
 * first '}' after it. "{user1}.a" and "{user1}.b" share a slot; "{}x" hashes
 * whole, as does "a}b{c" (no '}' after the '{').
 *
 * Pure functions over caller-owned bytes: nothing is allocated, kept or
 * locked, so every function may be called from any thread at any time.
 * Nothing here can fail, so unlike other modules this one has no status enum.
 */
#ifndef CLUSTER_SLOTS_H
#define CLUSTER_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_SLOTS 16384

/* CRC-16/XMODEM of buf[0..len); "123456789" gives 0x31c3. */
uint16_t slots_crc16(const void *buf, size_t len);

/* The slot of key[0..len), in [0, CLUSTER_SLOTS). key may hold any bytes,
 * including NUL; len may be 0 (the empty key lives in slot 0). */
uint16_t slots_keyslot(const char *key, size_t len);

#endif /* CLUSTER_SLOTS_H */
