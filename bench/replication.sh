#!/bin/bash
# N=1 vs N=3/W=2/R=2 vs N=3/W=1/R=1 on a local 3-member cluster, redis-benchmark against member 1
cd "$(dirname "$0")/.."
for cfg in "1 1 1" "3 2 2" "3 1 1"; do
  set -- $cfg
  pkill -9 -f "ringcache-server --port 81" ; sleep 0.3; rm -rf /tmp/rcb
  for i in 1 2 3; do mkdir -p /tmp/rcb/n$i; ./ringcache-server --port 810$i --cluster-enabled yes --dir /tmp/rcb/n$i --logfile node.log --io-threads 1 --replicas $1 --write-quorum $2 --read-quorum $3 $( [ $i -gt 1 ] && echo --cluster-seeds 127.0.0.1:18101 ) & done
  sleep 1.5
  for P in 1 16; do
    echo "N=$1 W=$2 R=$3 P=$P $(redis-benchmark -p 8101 -t set,get -n 200000 -r 100000 -d 100 -c 50 -P $P -q --csv | tr '\n' ' ')"
  done
  redis-cli -p 8101 info memory | grep -E "used_memory_dataset:|bytes_per_key" | tr '\r\n' '  '; redis-cli -p 8101 dbsize; echo
done
pkill -9 -f "ringcache-server --port 81"
