// swift-tools-version:6.0
import PackageDescription

// Benchmarks live in their own package so benchmark-only dependencies never enter the library's graph.
let package = Package(
    name: "SolidIPCBenchmarks",
    products: [
        .executable(name: "ipc-bench", targets: ["IPCBench"]),
    ],
    dependencies: [
        .package(name: "SolidIPC", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(name: "CAllocationCounter"),
        // sched_setaffinity for ipc-bench's placement (not exposed by the Glibc module).
        .target(name: "CBenchSupport"),
        .executableTarget(
            name: "EngineBench",
            dependencies: [
                "CAllocationCounter",
                .product(name: "SolidEngine", package: "SolidIPC"),
                .product(name: "SolidIPCSnappy", package: "SolidIPC"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ReactorBench",
            dependencies: [.product(name: "SolidReactor", package: "SolidIPC")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // `ipc-bench`: SolidIPC against raw TCP, SwiftNIO (also with NIOSSL) and grpc-swift 2 in the same run (issue 6).
        .executableTarget(
            name: "IPCBench",
            dependencies: [
                "CAllocationCounter",
                "CBenchSupport",
                .product(name: "SolidIPC", package: "SolidIPC"),
                .product(name: "SolidIPCSnappy", package: "SolidIPC"),
                .product(name: "SolidIPCTLS", package: "SolidIPC"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
