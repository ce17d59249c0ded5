"""The demo's sample pledge contract, end to end, from another toolchain.

Usage: pledge.py ADDR PAYMENTS_URL PKI_DIR  (the generated modules must be on PYTHONPATH)
Reads PKI_DIR/pledge-request.json (the JSON a grpcurl user sends) into the generated message,
submits it as the demo bank, pays the fee at the payment gateway mock as a payer would, and
follows WatchPledgeStatus to the end. Prints one JSON object: the answer and the states seen.
"""
import json
import sys
import urllib.request

import grpc
from google.protobuf import json_format
from kopir.v1 import pledge_pb2, pledge_pb2_grpc


def main() -> int:
    addr, payments, pki = sys.argv[1], sys.argv[2], sys.argv[3]

    def read(name: str) -> bytes:
        with open(f"{pki}/{name}", "rb") as f:
            return f.read()

    request = json_format.Parse(read("pledge-request.json"), pledge_pb2.SubmitPledgeContractRequest())
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read("root.crt"),
        private_key=read("bank.key"),
        certificate_chain=read("bank.crt"),
    )
    target = "localhost:" + addr.rsplit(":", 1)[1]
    with grpc.secure_channel(target, credentials) as channel:
        stub = pledge_pb2_grpc.PledgeServiceStub(channel)
        answer = stub.SubmitPledgeContract(request, timeout=10)
        payment = json.dumps({
            "payer": request.contract.pledgors[0].iin,
            "contract_number": request.contract.number,
            "amount_tiyn": 432500,
        }).encode()
        urllib.request.urlopen(urllib.request.Request(
            payments + "/api/v1/payments", data=payment,
            headers={"content-type": "application/json"}), timeout=10).read()
        states = []
        watch = pledge_pb2.GetPledgeStatusRequest(contract_number=request.contract.number)
        for status in stub.WatchPledgeStatus(watch, timeout=60):
            states.append(pledge_pb2.PledgeState.Name(status.state))
            last = status
        print(json.dumps({
            "accepted": pledge_pb2.PledgeState.Name(answer.state),
            "request_id": answer.request_id,
            "sealed": len(answer.seal) > 0,
            "states": states,
            "final": last.final,
            "grounds": list(last.grounds),
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
