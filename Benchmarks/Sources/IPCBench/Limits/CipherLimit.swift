/// The cipher ceiling of a TLS bulk transfer: `openssl speed -evp CIPHER -bytes 16384 -seconds 1` (one
/// core; this process's CPU when pinned, inherited by the child), its result line parsed into GB/s.
/// AES-128-GCM is what the issue asks for (what NIOSSL and SolidIPC + TLS negotiate); AES-256-GCM is
/// OpenSSL's default first TLS 1.3 choice (what SolidIPC + TLS negotiated before the library set its order).
enum CipherLimit {
    static let ciphers = ["aes-128-gcm", "aes-256-gcm"]

    static func run(pin: Bool) -> [LimitResult] {
        guard Subprocess.which("openssl") != nil else {
            return [LimitResult(name: "cipher", summary: "skipped (openssl not installed; `apt-get install -y openssl`)")]
        }
        return ciphers.map { cipher in
            printError("limit: openssl speed -evp \(cipher) -bytes 16384 -seconds 1")
            let name = "cipher \(cipher)"
            guard let run = try? Subprocess.run(["openssl", "speed", "-evp", cipher, "-bytes", "16384", "-seconds", "1"]),
                  run.status == 0, let bytesPerSecond = parse(run.output, cipher: cipher)
            else { return LimitResult(name: name, summary: "failed (no result line from openssl speed)") }
            let placement = pin ? "one core, CPU 1" : "one core, not pinned"
            return LimitResult(
                name: name,
                summary: "\(fixed(bytesPerSecond / 1e9, 2)) GB/s (openssl speed -evp \(cipher), 16 KiB blocks, \(placement))",
                values: ["bytes_per_second": bytesPerSecond])
        }
    }

    /// The figure of the result line (`AES-128-GCM    3204198.40k`: thousands of bytes per second).
    static func parse(_ output: String, cipher: String) -> Double? {
        for line in output.split(separator: "\n").reversed() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[0].lowercased() == cipher, var last = fields.last.map(String.init) else { continue }
            var scale = 1.0
            if last.hasSuffix("k") {
                scale = 1000
                last.removeLast()
            }
            if let value = Double(last) { return value * scale }
        }
        return nil
    }
}
