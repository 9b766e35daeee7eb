#!/usr/bin/env bash
# Makes development TLS material for llmos nodes: a CA (ca.pem, ca.key) and, for each NODE, a
# certificate NODE.pem with key NODE.key signed by that CA, naming NODE, localhost and 127.0.0.1,
# for 30 days. EC P-256 keys. Only the openssl command-line tool is used.
#
# Idempotent: an existing CA in DIR is kept, so certificates made by an earlier run stay valid;
# node certificates are (re)issued on every run. Two runs into two folders give two unrelated
# CAs, which is what tests need to check that a peer with the wrong CA is refused.
#
# For development and tests only: the keys are not encrypted.
set -euo pipefail

usage() {
  cat <<USAGE
usage: $(basename "$0") DIR NODE...

Creates DIR/ca.pem and DIR/ca.key (kept if they already exist) and, for each NODE,
DIR/NODE.pem and DIR/NODE.key signed by that CA (EC P-256, SAN DNS:NODE, DNS:localhost and
IP:127.0.0.1, valid 30 days). Check one with:
  openssl verify -CAfile DIR/ca.pem DIR/NODE.pem
USAGE
}

if [[ $# -ge 1 && ( $1 == -h || $1 == --help ) ]]; then
  usage
  exit 0
fi
if [[ $# -lt 2 ]]; then
  usage >&2
  exit 2
fi

command -v openssl >/dev/null || { echo "$(basename "$0"): openssl not found in PATH" >&2; exit 1; }

dir=$1
shift
days=30

for node in "$@"; do
  # The name becomes a file name and a certificate subject: keep it to what a node name is.
  if [[ ! $node =~ ^[A-Za-z0-9._-]+$ || $node == ca ]]; then
    echo "$(basename "$0"): bad node name '$node' (use letters, digits, '.', '_', '-'; not 'ca')" >&2
    exit 2
  fi
done

mkdir -p "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -f $dir/ca.pem && -f $dir/ca.key ]]; then
  echo "keeping the CA in $dir"
elif [[ -f $dir/ca.pem || -f $dir/ca.key ]]; then
  echo "$(basename "$0"): $dir holds only one of ca.pem and ca.key; remove it or restore the other" >&2
  exit 1
else
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
  # A random suffix in the subject keeps CAs from different runs distinct, also by name.
  openssl req -x509 -new -key "$work/ca.key" -sha256 -days "$days" \
    -subj "/O=llmos development/CN=llmos dev CA $(openssl rand -hex 4)" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$work/ca.pem" 2>/dev/null
  mv "$work/ca.key" "$dir/ca.key"
  mv "$work/ca.pem" "$dir/ca.pem"
  echo "made a CA in $dir"
fi

for node in "$@"; do
  # Nodes check that a peer's certificate names a node of their topology (CN or DNS name).
  cat >"$work/node.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$node,DNS:localhost,IP:127.0.0.1
EXT
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/$node.key"
  openssl req -new -key "$work/$node.key" -subj "/O=llmos development/CN=$node" \
    -out "$work/$node.csr"
  openssl x509 -req -in "$work/$node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -CAserial "$work/ca.srl" -sha256 -days "$days" \
    -extfile "$work/node.ext" -out "$work/$node.pem" 2>/dev/null
  openssl verify -CAfile "$dir/ca.pem" "$work/$node.pem" >/dev/null
  mv "$work/$node.key" "$dir/$node.key"
  mv "$work/$node.pem" "$dir/$node.pem"
  echo "made $dir/$node.pem and $dir/$node.key"
done
