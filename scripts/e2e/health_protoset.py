"""Writes the grpc.health.v1 descriptors as a protoset file for grpcurl.

grpcio-health-checking ships the compiled health.proto; grpcurl reads a serialized
FileDescriptorSet with `-protoset FILE`, so Health/Check works without server reflection.
Usage: python health_protoset.py OUT_FILE
"""

import sys

from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2


def main() -> None:
    descriptors = descriptor_pb2.FileDescriptorSet()
    descriptors.file.add().ParseFromString(health_pb2.DESCRIPTOR.serialized_pb)
    with open(sys.argv[1], "wb") as out:
        out.write(descriptors.SerializeToString())


if __name__ == "__main__":
    main()
