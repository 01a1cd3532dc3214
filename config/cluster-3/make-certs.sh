#!/usr/bin/env bash
# Makes a local certificate authority and one certificate per node for the
# TLS variant of the local cluster (config/cluster-3/tls/), with the system's
# openssl (`start.sh tls` runs it when the certificates are missing). From
# the repository root:
#
#   config/cluster-3/make-certs.sh                  # into ./cairn-cluster-3-tls/certs, nodes 1-3
#   config/cluster-3/make-certs.sh DIR [NODES]      # into DIR, nodes 1..NODES
#
# It writes ca.pem and ca.key (the CA; reused if DIR already has one, so that
# certificates made later join the same cluster), and nodeN.pem and nodeN.key
# for each node: P-256 keys, each certificate good as a server (HTTP and
# Raft) and as a client (a peer dialing another), for the names in SANS
# (default: 127.0.0.1, ::1 and localhost; add a machine's own name or address
# with e.g. SANS="DNS:localhost,IP:127.0.0.1,DNS:node1.example" for a real
# deployment). The keys are secrets: they stay in DIR, never in git.
set -euo pipefail

OUT="${1:-./cairn-cluster-3-tls/certs}"
NODES="${2:-3}"
SANS="${SANS:-IP:127.0.0.1,IP:::1,DNS:localhost}"
DAYS="${DAYS:-825}"

if ! command -v openssl >/dev/null; then
    echo "make-certs.sh needs the openssl command" >&2
    exit 1
fi
if ! [[ "$NODES" =~ ^[1-9][0-9]*$ ]]; then
    echo "NODES must be a positive number, not $NODES" >&2
    exit 2
fi

mkdir -p "$OUT"
umask 077

if [[ ! -s "$OUT/ca.pem" || ! -s "$OUT/ca.key" ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$OUT/ca.key" -out "$OUT/ca.pem" -days "$DAYS" \
        -subj "/CN=Cairn local CA $(date +%s)-$RANDOM" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

extensions="$OUT/node.ext"
cat >"$extensions" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$SANS
EXT

for n in $(seq 1 "$NODES"); do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$OUT/node$n.key" -out "$OUT/node$n.csr" \
        -subj "/CN=cairn-node$n" 2>/dev/null
    openssl x509 -req -in "$OUT/node$n.csr" -CA "$OUT/ca.pem" -CAkey "$OUT/ca.key" \
        -CAcreateserial -CAserial "$OUT/ca.srl" -days "$DAYS" \
        -extfile "$extensions" -out "$OUT/node$n.pem" 2>/dev/null
    rm -f "$OUT/node$n.csr"
done
rm -f "$extensions"
# Certificates are public (clients are given ca.pem with --ca-file); keys are not.
chmod 644 "$OUT"/*.pem
echo "made a CA and $NODES node certificates in $OUT"
