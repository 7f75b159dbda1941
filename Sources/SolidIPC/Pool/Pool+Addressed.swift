import Logging
import SolidEngine
import SolidReactor

/// What reaches one connection of a pool through its own handle, and freeing a pool nobody uses.
extension Pool {
    /// An event posted to `link`'s handle: control, activation, a message or a request for it alone.
    func linkEvent(_ event: ReactorEvent, on link: PoolLink) {
        if let control = event as? ConnectionControlEvent {
            if control.apply(to: link.connection) { return }
            if control.action == .activate {
                activate(link, completion: control.completion)
            } else {
                link.draining = true
                link.connection.goAway()
                closeDrainedLinks()
            }
        } else if let send = event as? PeerSendEvent {
            send.deliver(on: link.connection)
        } else if let command = event as? ConnectionCommandEvent {
            command.apply(to: link.connection)
        } else if let request = event as? DirectRequestEvent {
            sendAddressed(request.item, on: link)
        } else {
            event.undeliverable(.targetGone)
        }
    }

    /// Lets a passive connection take pool messages (at once, or when its handshake completes).
    private func activate(_ link: PoolLink, completion: (@Sendable (Result<Void, SendError>) -> Void)?) {
        // From Raw: the hello goes out now; the link takes pool messages once the handshake is done.
        link.connection.startMessaging()
        // (Leaving Raw after the peer's input ended closes the connection at once.)
        guard links.contains(where: { $0 === link }) else {
            completion?(.failure(.peerGone))
            return
        }
        guard !link.active else {
            completion?(.failure(.alreadyActive))
            return
        }
        link.active = true
        completion?(.success(()))
        if link.handshaken {
            dispatch()
            scale()
        }
    }

    /// Closes (once written) the gracefully closing connections that carry nothing any more.
    func closeDrainedLinks() {
        for link in links where link.draining && link.inFlight == 0 { link.connection.closeWhenDrained() }
    }

    /// Sends a request addressed to `link`'s connection: never queued for another connection and never
    /// resent elsewhere; it holds a place of the pool's queue capacity until it is written. Refused on a
    /// connection that is closing gracefully (its response could not arrive).
    private func sendAddressed(_ item: PoolItem, on link: PoolLink) {
        guard !stopped, links.contains(where: { $0 === link }) else {
            item.fail(stopped ? stopError : .peerGone)
            return
        }
        guard !link.draining else {
            item.fail(.connectionClosed(.closingGracefully, progress: .notSent))
            return
        }
        guard entry.reserve(capacity: settings.poolQueueCapacity) else {
            item.fail(.queueFull(entry.destination))
            return
        }
        item.entry = entry
        item.holdsReservation = true
        send(item, on: link)
    }

    /// A pool with no connection, nothing connecting, queued, in flight or scheduled is removed from the
    /// service's map (unless a sender just reserved a place in it), so the map does not grow with every
    /// destination ever used. A later send creates a fresh pool.
    func retireIfIdle() {
        guard !stopped, links.isEmpty, dialer.isIdle, queue.isEmpty,
            inFlightMessages.isEmpty, givenBack.isEmpty, closeWhenDrained == nil, entry.retireIfUnused()
        else { return }
        core.logger.trace("idle pool freed", metadata: ["destination": "\(entry.destination)"])
        stop(with: .serviceStopped)
    }
}
