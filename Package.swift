// swift-tools-version:6.0
import PackageDescription

/// Settings shared by every Swift target: Swift 6 mode with strict concurrency.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "SolidIPC",
    products: [
        .library(name: "SolidReactor", targets: ["SolidReactor"]),
        .library(name: "SolidEngine", targets: ["SolidEngine"]),
        .library(name: "SolidIPC", targets: ["SolidIPC"]),
        .library(name: "SolidIPCSnappy", targets: ["SolidIPCSnappy"]),
        .library(name: "SolidIPCTLS", targets: ["SolidIPCTLS"]),
        .library(name: "SolidIPCLifecycle", targets: ["SolidIPCLifecycle"]),
        .library(name: "SolidIPCMetrics", targets: ["SolidIPCMetrics"]),
        .executable(name: "reactor-echo", targets: ["ReactorEcho"]),
        .executable(name: "ipc-echo", targets: ["IPCEcho"]),
        .executable(name: "relay-proxy", targets: ["RelayProxy"]),
        .executable(name: "key-value", targets: ["KeyValue"]),
        .executable(name: "file-transfer", targets: ["FileTransfer"]),
        .executable(name: "prometheus-metrics", targets: ["PrometheusMetrics"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // For the adapter products only (SolidIPCLifecycle, SolidIPCMetrics); the core links neither.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // Builds the DocC catalogs (`swift package generate-documentation`); not linked into anything.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
        // Used by the examples only, never by the libraries.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Linux APIs the Glibc module does not expose (epoll, eventfd, accept4, ...).
        .target(name: "CSolidLinux"),
        .target(
            name: "SolidReactor",
            dependencies: ["CSolidLinux", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The wire: messages as Swift types, packets, writer and reader. Pure logic, no sockets.
        .target(name: "SolidEngine", swiftSettings: swiftSettings),
        .target(
            name: "SolidIPC",
            dependencies: ["SolidReactor", "SolidEngine", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Snappy per-packet compression, in its own product so the core does not need libsnappy.
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .target(name: "SolidIPCSnappy", dependencies: ["SolidEngine", "CSnappy"], swiftSettings: swiftSettings),
        // TLS over the system OpenSSL 3, in its own product so the core does not link libssl.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // The OpenSSL macros Swift cannot import, as functions.
        .target(name: "CSolidTLS", dependencies: ["COpenSSL"]),
        .target(
            name: "SolidIPCTLS",
            dependencies: ["SolidReactor", "COpenSSL", "CSolidTLS"],
            swiftSettings: swiftSettings
        ),
        // ServiceLifecycle: an IPCService runs in a ServiceGroup; its graceful shutdown drains the service.
        .target(
            name: "SolidIPCLifecycle",
            dependencies: ["SolidIPC", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings
        ),
        // swift-metrics: connections, messages, request durations and errors through IPCMetrics.
        .target(
            name: "SolidIPCMetrics",
            dependencies: ["SolidIPC", "SolidReactor", .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ReactorEcho",
            dependencies: ["SolidReactor"],
            path: "Examples/ReactorEcho",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "IPCEcho",
            dependencies: [
                "SolidIPC", "SolidIPCSnappy", "SolidIPCTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/IPCEcho",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FileTransfer",
            dependencies: ["SolidIPC", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/FileTransfer",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PrometheusMetrics",
            dependencies: [
                "SolidIPC", "SolidIPCMetrics", .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Examples/PrometheusMetrics",
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "KeyValue", dependencies: ["SolidIPC"], path: "Examples/KeyValue", swiftSettings: swiftSettings),
        .executableTarget(
            name: "RelayProxy",
            dependencies: ["SolidReactor", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/RelayProxy",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SolidReactorTests",
            dependencies: ["SolidReactor", "CSolidLinux"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SolidEngineTests",
            dependencies: ["SolidEngine", "SolidIPCSnappy"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SolidIPCTests",
            dependencies: [
                "SolidIPC", "SolidIPCSnappy", "SolidIPCTLS", "SolidIPCLifecycle", "CSolidLinux", "RelayProxy",
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                "SolidIPCMetrics", .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
