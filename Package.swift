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
        .library(name: "SolidIPC", targets: ["SolidIPC"]),
        .executable(name: "reactor-echo", targets: ["ReactorEcho"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // Linux APIs the Glibc module does not expose (epoll, eventfd, accept4, ...).
        .target(name: "CSolidLinux"),
        .target(
            name: "SolidReactor",
            dependencies: ["CSolidLinux", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SolidIPC",
            dependencies: ["SolidReactor", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ReactorEcho",
            dependencies: ["SolidReactor"],
            path: "Examples/ReactorEcho",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SolidReactorTests",
            dependencies: ["SolidReactor", "CSolidLinux"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SolidIPCTests",
            dependencies: ["SolidIPC"],
            swiftSettings: swiftSettings
        ),
    ]
)
