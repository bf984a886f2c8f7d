"""An outside ext_authz client: Envoy's Authorization/Check through grpcio, with the message
types of envoy-data-plane (not this repository's code).

Usage: python ext_authz_client.py HOST:PORT
Sends the checks below and prints one JSON line per check:
  {"case": NAME, "code": GRPC_STATUS_CODE, "http_status": N, "headers": {...},
   "headers_to_remove": [...], "body": {...}}
"""

import json
import sys

import grpc
from envoy_data_plane.envoy.config.core.v3 import Address, SocketAddress
from envoy_data_plane.envoy.service.auth.v3 import (
    AttributeContext,
    AttributeContextHttpRequest,
    AttributeContextPeer,
    AttributeContextRequest,
    AuthorizationSyncStub,
    CheckRequest,
)

# (case, method, path, peer principal, extra headers): written for the gateway fixture
# policy of cli/tests (mTLS services reading the documents of their team).
CHECKS = [
    ("allow", "GET", "/docs/handbook", "spiffe://corp/docs-editor", {}),
    ("deny-team", "GET", "/docs/handbook", "spiffe://corp/billing", {}),
    ("deny-anonymous", "GET", "/docs/handbook", "", {}),
]


def check_request(method, path, principal, headers):
    all_headers = {":method": method, ":path": path, ":authority": "api.local"}
    all_headers.update(headers)
    return CheckRequest(
        attributes=AttributeContext(
            source=AttributeContextPeer(
                address=Address(
                    socket_address=SocketAddress(address="127.0.0.1", port_value=40000)
                ),
                principal=principal,
            ),
            request=AttributeContextRequest(
                http=AttributeContextHttpRequest(
                    id="1",
                    method=method,
                    path=path,
                    host="api.local",
                    scheme="https",
                    protocol="HTTP/1.1",
                    headers=all_headers,
                )
            ),
        )
    )


def describe(case, response):
    out = {"case": case, "code": response.status.code if response.status else 0}
    if response.ok_response is not None:
        ok = response.ok_response
        out["headers"] = {h.header.key: h.header.value for h in ok.headers}
        out["headers_to_remove"] = list(ok.headers_to_remove)
    if response.denied_response is not None:
        denied = response.denied_response
        out["http_status"] = int(denied.status.code)
        out["body"] = json.loads(denied.body)
    return out


def main():
    with grpc.insecure_channel(sys.argv[1]) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = AuthorizationSyncStub(channel)
        for case, method, path, principal, headers in CHECKS:
            response = stub.check(check_request(method, path, principal, headers))
            print(json.dumps(describe(case, response)), flush=True)


if __name__ == "__main__":
    main()
