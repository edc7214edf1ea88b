"""Phrase tables for bounce reasons: data only, in Sisimai's vocabulary.

Each reason has plain substrings (matched case-insensitively against the lowered diagnostic)
and "aligned" tuples: fragments that must appear in this order, close together. The phrases are
facts about what real MTAs write (collected by the Sisimai project and from real bounces); the
strategy that combines them lives in ``reason.py``. ``_build`` compiles the phrases that open with
a letter or digit into one trie pattern tried just after each separator; the few that open with a
separator are found with ``in``, ``str.find`` or a small trie of their own that opens with a literal
(``_build_separator_led``), so a few C-speed scans of a diagnostic yield every reason whose
phrases occur in it.
"""

from __future__ import annotations

import re

from bot.parse.alternation import literal_trie_pattern

# Gap allowed between the fragments of an aligned tuple. Bounded so the pattern stays linear.
_GAP = 160

PHRASES: dict[str, tuple[str, ...]] = {
    "mailboxfull": (
        "452 insufficient disk space",
        "account disabled temporarly for exceeding receiving limits",
        "boite du destinataire pleine",
        "exceeded storage allocation",
        "full mailbox",
        "mailbox exceeds allowed size",
        "mailbox size limit exceeded",
        "mailbox would exceed maximum allowed storage",
        "mailfolder is full",
        "no space left on device",
        "not sufficient disk space",
        "quota violation for",
        "too much mail data",
        "user has exceeded quota, bouncing mail",
        "user has too many messages on the server",
        "user's space has been used up",
        "mailbox is full",
        "mailbox full",
        "over quota",
        "quota exceeded",
        "inbox is full",
        "recipient's mailbox is full",
    ),
    "mesgtoobig": (
        "exceeded maximum inbound message size",
        "exceeded the maximum incoming message size",
        "line limit exceeded",
        "max message size exceeded",
        "message file too big",
        "message length exceeds administrative limit",
        "message size exceeds fixed limit",
        "message size exceeds fixed maximum message size",
        "message size exceeds maximum value",
        "message too big",
        "message too large",
        "size limit",
        "taille limite du message atteinte",
        "message is too large",
        "message size exceeds",
    ),
    "exceedlimit": ("message header size exceeds limit", "message too large"),
    "suspend": (
        " is currently suspended",
        " temporary locked",
        "archived recipient",
        "boite du destinataire archivee",
        "email account that you tried to reach is disabled",
        "has been suspended",
        "inactive account",
        "invalid/inactive user",
        "is a deactivated mailbox",
        "is unavailable: user is terminated",
        "mailbox currently suspended",
        "mailbox disabled",
        "mailbox is frozen",
        "mailbox unavailable or access denied",
        "recipient rejected: temporarily inactive",
        "recipient suspend the service",
        "the email account that you tried to reach is inactive",
        "this account has been disabled or discontinued",
        "this account has been temporarily suspended",
        "this address no longer accepts mail",
        "this mailbox is disabled",
        "user or domain is disabled",
        "user suspended",
        "vdelivermail: account is locked email bounced",
        "account has been disabled",
        "account is disabled",
        "mailbox is inactive",
    ),
    "hasmoved": (" has been replaced by ", "user not local; please try", "user has moved; please try"),
    "norelaying": (
        "as a relay",
        "email address is not verified.",
        "insecure mail relay",
        "is not permitted to relay through this server without authentication",
        "mail server requires authentication when attempting to send to a non-local e-mail address",
        "no relaying",
        "not a gateway",
        "not allowed to relay through this machine",
        "not an open relay, so get lost",
        "not local host",
        "relay access denied",
        "relay denied",
        "relay not permitted",
        "relaying denied",
        "relaying mail to ",
        "specified domain is not allowed",
        "that domain isn't in my list of allowed rcpthost",
        "this system is not configured to relay mail",
        "unable to relay",
        "we don't handle mail for",
    ),
    "authfailure": (
        "//spf.pobox.com",
        "bad spf records for",
        "dmarc policy",
        "doesn't meet the required authentication level",
        "please inspect your spf settings",
        "sender policy framework (spf) fail",
        "sender policy framework violation",
        "spf (sender policy framework) domain authentication fail",
        "spf check: fail",
        "the 5322.from address doesn't meet the authentication requirements",
    ),
    "userunknown": (
        "#5.1.1 bad address",
        "550 address invalid",
        "5.1.0 address rejected.",
        "address does not exist",
        "address not present in directory",
        "address unknown",
        "can't accept user",
        "does not exist.",
        "destination addresses were unknown",
        "destination server rejected recipients",
        "email address does not exist",
        "email address could not be found",
        "the address couldn't be found",
        "invalid address",
        "invalid mailbox",
        "invalid recipient",
        "is not a known user",
        "is not a valid mailbox",
        "is not an active address at this host",
        "mailbox does not exist",
        "mailbox invalid",
        "mailbox is inactive",
        "mailbox is unavailable",
        "mailbox not present",
        "mailbox not found",
        "mailbox unavaiable",
        "mailbox unknown",
        "nessun utente simile in questo indirizzo",
        "no account by that name here",
        "no existe dicha persona",
        "no existe ese usuario ",
        "no mail box available for this user",
        "no mailbox by that name is currently available",
        "no mailbox found",
        "no such address here",
        "no such mailbox",
        "no such person at this address",
        "no such recipient",
        "no such user",
        "no thank you rejected: account unavailable",
        "no valid recipients, bye",
        "not a valid recipient",
        "not a valid user here",
        "not a local address",
        "not email addresses",
        "recipient address rejected. (in reply to rcpt to command)",
        "recipient address rejected: access denied",
        "recipient address rejected.",
        "recipient address rejected: invalid user",
        "recipient address rejected: invalid-recipient",
        "recipient address rejected: unknown user",
        "recipient address rejected: userunknown",
        "recipient does not exist",
        "recipient is not accepted",
        "recipient is not local",
        "recipient not exist",
        "recipient not found",
        "recipient not ok",
        "recipient refuses to accept your mail",
        "recipient unknown",
        "requested action not taken: mailbox unavailable",
        "resolver.adr.recipient notfound",
        "resolver.adr.recipnotfound",
        "resolver.adr.recipientnotfound",
        "resolver.adr.exrecipnotfound",
        "sorry, user unknown",
        "sorry, badrcptto",
        "sorry, no mailbox here by that name",
        "sorry, your envelope recipient has been denied",
        "that domain or user isn't in my list of allowed rcpthosts",
        "the email account that you tried to reach does not exist",
        "the following recipients was undeliverable",
        "the user's email name is not found",
        "there is no one at this address",
        "this address no longer accepts mail",
        "this email address is wrong or no longer valid",
        "this recipient is in my badrecipientto list",
        "this recipient is not in my validrcptto list",
        "this spectator does not exist",
        "unknown mailbox",
        "unknown recipient",
        "unknown user",
        "user does not exist",
        "user missing home directory",
        "user not active",
        "user not exist",
        "user not found",
        "user not known",
        "user unknown",
        "utilisateur inconnu !",
        "vdeliver: invalid or unknown virtual user",
        "weil die adresse nicht gefunden wurde oder keine e-mails empfangen kann",
        "your envelope recipient is in my badrcptto list",
    ),
    # Wordings that state the mailbox or address itself does not exist or is invalid (each also
    # a userunknown phrase). A recipient's own sender filter that answers after DATA imitates the
    # classic "user unknown" / "no such user" line, not these: after DATA they still mean an
    # unknown user (``reason.py``). Not a reason of its own.
    "userunknown_stated": (
        "address does not exist",
        "email address does not exist",
        "mailbox does not exist",
        "recipient does not exist",
        "the email account that you tried to reach does not exist",
        "invalid recipient",
        "invalid mailbox",
        "is not a valid mailbox",
        "not a valid recipient",
        "no such mailbox",
        "mailbox not found",
        "email address could not be found",
        "the address couldn't be found",
    ),
    "filtered": (
        "account is protected by",
        "bounced address",
        "has restricted sms e-mail",
        "is not accepting any mail",
        "message filtered",
        "message rejected due to user rules",
        "not found recipient account",
        "recipient id refuse to receive mail",
        "recipient is only accepting mail from specific email addresses",
        "refused due to recipient preferences",
        "user not found",
        "user refuses to receive this mail",
        "user reject",
        "you have been blocked by the recipient",
    ),
    "requireptr": (
        "access denied. ip name lookup failed",
        "all mail servers must have a ptr record with a valid reverse dns entry",
        "bad dns ptr resource record",
        "cannot find your hostname",
        "cannot resolve your address.",
        "client host rejected: cannot find your hostname",
        "fix reverse dns for ",
        "ips with missing ptr records",
        "no ptr record found.",
        "please get a custom reverse dns name from your isp for your host",
        "ptr record setup",
        "reverse dns failed",
        "reverse dns required",
        "sender ip reverse lookup rejected",
        "the ip address sending this message does not have a ptr record setup",
        "the corresponding forward dns entry does not point to the sending ip",
        "this system will not accept messages from servers/devices with no reverse dns",
        "unresolvable relay host name",
        "we do not accept mail from hosts with dynamic ip or generic dns ptr-records",
    ),
    # A receiver that says the message breaks RFC 5322. A bare "duplicate header" does not: many
    # fields may repeat (Received, DKIM-Signature), so refusing one is the receiver's own rule on
    # the content ("contenterror"); a field the RFC allows once is named as such ("multiple
    # Subject headers", "not RFC 5322 compliant").
    "notcompliantrfc": (
        "this message is not rfc 5322 compliant",
        "not rfc 5322 compliant",
        "not rfc5322 compliant",
        "not rfc 2822 compliant",
        "not rfc2822 compliant",
        "https://support.google.com/mail/?p=rfcmessagenoncompliant",
    ),
    "badreputation": (
        "a poor email reputation score",
        "has been temporarily rate limited due to ip reputation",
        "ip/domain reputation problems",
        "likely suspicious due to the very low reputation",
        "none/bad reputation",
        "the sending mta's poor reputation",
        "temporarily deferred due to unexpected volume or user complaints",
    ),
    "contenterror": (
        "duplicate header",
        "header size exceeds maximum permitted",
        "improper use of 8-bit data in message header",
        "message header size, or recipient list, exceeds policy limit",
        "message mime complexity exceeds the policy maximum",
        "routing loop detected -- too many received: headers",
        "this message contain invalid mime headers",
        "this message contain improperly-formatted binary content",
        "this message contain text that uses unnecessary base64 encoding",
    ),
    # Refusals that name the sender's address (each also a rejected phrase). Under a 5.1.x status
    # they are still about the sender: Postfix's sender verification answers "550 5.1.1 <a>:
    # Sender address rejected: undeliverable address" at RCPT (``reason.py``). Not a reason of its own.
    "rejected_sender": (
        "sender address rejected",
        "sender rejected",
        "sender verify failed",
        "sender verification failed",
        "sender address verification failed",
        "sender email address rejected",
        "sender was rejected",
        "invalid sender",
        "unroutable sender address",
        "domain of sender address ",
        # the sender's own address, said not to exist (not the recipient's mailbox)
        "sender address does not exist",
        "from address does not exist",
        "return address does not exist",
    ),
    "rejected_not": ("5.1.0 address rejected", "recipient address rejected", "sender ip address rejected"),
    "rejected": (
        "access denied (in reply to mail from command)",
        "access denied (sender blacklisted)",
        "address rejected",
        "administrative prohibition",
        "batv failed to verify",
        "batv validation failure",
        "backscatter protection detected an invalid or expired email address",
        "because the sender isn't on the recipient's list of senders to accept mail from",
        "bogus mail from",
        "can't determine purported responsible address",
        "connections not accepted from servers without a valid sender domain",
        "denied [bouncedeny]",
        "denied by secumail valid-address-filter",
        "delivery not authorized, message refused",
        "does not exist e2110",
        "domain of sender address ",
        "email address is on senderfilterconfig list",
        "emetteur invalide",
        "empty envelope senders not allowed",
        "envelope blocked - ",
        "error: no third-party dsns",
        "from: domain is invalid. please provide a valid from:",
        "fully qualified email address required",
        "invalid domain, see <url:",
        "invalid sender",
        "is not a registered gateway user",
        "mail from not owned by user",
        "message rejected: email address is not verified",
        "mx records for ",
        "null sender is not allowed",
        "recipient addresses rejected : access denied",
        "recipient not accepted. (batv: no tag",
        "returned mail not accepted here",
        "rfc 1035 violation: recursive cname records for",
        "rule imposed mailbox access for",
        "sending this from a different address or alias using the ",
        "sender address has been blacklisted",
        "sender email address rejected",
        "sender is in my black list",
        "sender is spammer",
        "sender not pre-approved",
        "sender rejected",
        "sender domain is empty",
        "sender verify failed",
        "sender verification failed",
        "sender address verification failed",
        "sender was rejected",
        "sender address does not exist",
        "from address does not exist",
        "return address does not exist",
        "spam reporting address",
        "syntax error: empty email address",
        "the message has been rejected by batv defense",
        "this server does not accept mail from",
        "transaction failed unsigned dsn for",
        "unroutable sender address",
        "you are not allowed to post to this mailing list",
        "you are sending to/from an address that has been blacklisted",
        "your access to submit messages to this e-mail system has been rejected",
        "your email address has been blacklisted",
        "blocked senders",
    ),
    "hostunknown": (
        "domain does not exist",
        "domain is not reachable",
        "domain must exist",
        "host or domain name not found",
        "host unknown",
        "host unreachable",
        "mail domain mentioned in email address is unknown",
        "name or service not known",
        "no such domain",
        "recipient address rejected: unknown domain name",
        "recipient domain must exist",
        "the account or domain may not exist",
        "unknown host",
        "unroutable address",
        "unrouteable address",
    ),
    "spamdetected": (
        " - spam",
        "//www.spamhaus.org/help/help_spam_16.htm",
        "//dsbl.org/help/help_spam_16.htm",
        "//mail.163.com/help/help_spam_16.htm",
        "554 5.7.0 reject, id=",
        "appears to be unsolicited",
        "blacklisted url in message",
        "block for spam",
        "blocked by policy: no spam please",
        "blocked by spamassassin",
        "blocked for abuse. see http://att.net/blocks",
        "cannot be forwarded because it was detected as spam",
        "considered unsolicited bulk e-mail (spam) by our mail filters",
        "content filter rejection",
        "cyberoam anti spam engine has identified this email as a bulk email",
        "denied due to spam list",
        "high probability of spam",
        "is classified as spam and is rejected",
        "listed in work.drbl.imedia.ru",
        "the mail server detected your message as spam and has prevented delivery.",
        "mail appears to be unsolicited",
        "may consider spam",
        "message considered as spam or virus",
        "message contains spam or virus",
        "message detected as spam",
        "message filtered",
        "message looks like spam",
        "message is being rejected as it seems to be a spam",
        "message refused by mailmarshal spamprofiler",
        "message refused by trustwave seg spamprofiler",
        "message rejected as spam",
        "message rejected due to suspected spam content",
        "message rejected for policy reasons",
        "message was rejected for possible spam/virus content",
        "our email server thinks this email is spam",
        "our system has detected that this message is ",
        "probable spam",
        "reject bulk.advertising",
        "rejected: spamassassin score ",
        "rejected - bulk email",
        "rejecting banned content",
        "related to content with spam-like characteristics",
        "sender domain listed at ",
        "sending address not accepted due to spam filter",
        "spam blocked",
        "spam check",
        "spam content matched",
        "spam detected",
        "spam email",
        "spam message rejected.",
        "spam not accepted",
        "spam refused",
        "spam rejection",
        "spam score ",
        "spambouncer identified spam",
        "spamming not allowed",
        "too many spam complaints",
        "too much spam.",
        "the email message was detected as spam",
        "the message has been rejected by spam filtering engine",
        "the message was rejected due to classification as bulk mail",
        "the content of this message looked like spam",
        "this message appears to be spam",
        "this message has been identified as spam",
        "this message has been scored as spam with a probability",
        "this message was classified as spam",
        "this message was rejected by recurrent pattern detection system",
        "transaction failed spam message not queued",
        "we dont accept spam",
        "your email appears similar to spam we have received before",
        "your email breaches local uribl policy",
        "your email had spam-like ",
        "your email is considered spam",
        "your email is probably spam",
        "your email was detected as spam",
        "your message as spam and has prevented delivery",
        "your message has been temporarily blocked by our filter",
        "your message has been rejected because it appears to be spam",
        "your message has triggered a spam block",
        "your message may contain the spam contents",
        "your message failed several antispam checks",
    ),
    # A refusal of the content that names no cause: a spam filter's, unless the status is of
    # RFC 3463's media class (X.6.x), which makes it the content's form (``reason.py``). Not a
    # reason of its own.
    "content_rejected": (
        "message content rejected",
        "mail content denied",
        "rejecting mail content",
        "message rejected because of unacceptable content",
    ),
    "speeding": (
        "mail sent from your ip address has been temporarily rate limited",
        "please try again slower",
        "receiving mail at a rate that prevents additional messages from being delivered",
        "has sent to too many recipients this hour",
        "sending too many messages per hour",
        "rate limit exceeded for this sender",
    ),
    "toomanyconn": (
        "all available ips are at maximum connection limit",
        "connection rate limit exceeded",
        "exceeds per-domain connection limit for",
        "has exceeded the max emails per hour ",
        "throttling failure: daily message quota exceeded",
        "throttling failure: maximum sending rate exceeded",
        "too many connections",
        "too many concurrent smtp connections",
        "too many errors from your ip",
        "too many recipients",
        "too many smtp sessions for this host",
        "trop de connexions, ",
        "we have already made numerous attempts to deliver this message",
    ),
    "blocked": (
        " said: 550 blocked",
        "//www.spamcop.net/bl.",
        "bad sender ip address",
        "banned sending ip",
        "blacklisted by",
        "blocked using ",
        "blocked - see http",
        "dnsbl:attrbl",
        "client host rejected: abus detecte gu_eib_02",
        "client host rejected: abus detecte gu_eib_04",
        "client host rejected: may not be mail exchanger",
        "client host rejected: was not authenticated",
        "client host blocked",
        "confirm this mail server",
        "connections not accepted from ip addresses on spamhaus xbl",
        "currently sending spam see: ",
        "domain does not exist:",
        "dynamic/zombied/spam ips blocked",
        "error: no valid recipients from ",
        "esmtp not accepting connections",
        "extreme bad ip profile",
        "go away",
        "helo command rejected:",
        "host network not allowed",
        "hosts with dynamic ip",
        "invalid ip for sending mail of domain",
        "is in a black list",
        "is not allowed to send mail from",
        "mailfrom domain is listed in spamhaus",
        "no access from mail server",
        "no matches to nameserver query",
        "not currently accepting mail from your ip",
        "part of their network is on our block list",
        "please use the smtp server of your isp",
        "refused - see http",
        "rejected - multi-blacklist",
        "rejected because the sending mta or the sender has not passed validation",
        "rejecting open proxy",
        "sender ip address rejected",
        "server access forbidden by your ip ",
        "smtp error from remote mail server after initial connection:",
        "sorry, that domain isn't in my list of allowed rcpthosts",
        "sorry, your remotehost looks suspiciously like spammer",
        "to submit messages to this e-mail system has been rejected",
        "too many spams from your ip",
        "too many unwanted messages have been sent from the following ip address above",
        "was blocked by ",
        "we do not accept mail from dynamic ips",
        "you are not allowed to connect",
        "you are sending spam",
        "your ip address is listed in the rbl",
        "your network is temporary blacklisted",
        "your server requires confirmation",
        "traffic not accepted from this ip",
        # Look-up pages of public DNS blocklists that a refusal points to: the sending IP is listed
        # there, whatever the status says (a 553 5.1.3 with nothing but the URL).
        "spamhaus.org/query/",
        "spamhaus.org/lookup",
        "spamhaus.org/sbl/",
        "spamhaus.org/pbl/",
        "spamhaus.org/xbl/",
        "check.spamhaus.org",
        "barracudacentral.org/lookups",
        "barracudacentral.org/rbl",
        "spamcop.net/bl",
        "spamcop.net/w3m?action=checkblock",
        "barracudanetworks.com/reputation",
        "abuseat.org/lookup",
        "sorbs.net/lookup",
        "uceprotect.net/en/rblcheck",
        "dnsbl",
        "rbl reject",
    ),
    # A refused, dropped or closed connection: a block of the client when nothing else is known,
    # but only a network trouble when the status says so or the queue is still retrying
    # (``reason.py`` decides). Not a reason of its own.
    "blocked_connection": (
        "connection dropped",
        "connection refused by",
        "connection reset by peer",
        "connection was dropped by remote host",
        "service not available, closing transmission channel",
    ),
    "policyviolation": (
        "an illegal attachment on your message",
        "because the recipient is not accepting mail with ",
        "by non-member to a members-only list",
        "closed mailing list",
        "denied by policy",
        "email not accepted for policy reasons",
        "email rejected due to security policies",
        "header are not accepted",
        "header error",
        "local policy violation",
        "message bounced due to organizational settings",
        "message given low priority",
        "message not accepted for policy reasons",
        "message rejected due to local policy",
        "messages with multiple addresses",
        "rejected for policy reasons",
        "protocol violation",
        "the email address used to send your message is not subscribed to this group",
        "the message was rejected by organization policy",
        "this message was blocked because its content presents a potential",
        "we do not accept messages containing images or other attachments",
        "you're using a mass mailer",
    ),
    "virusdetected": (
        "it has a potentially executable attachment",
        "the message was rejected because it contains prohibited virus or spam content",
        "this form of attachment has been used by recent viruses or other malware",
        "virus detected",
        "virus phishing/malicious_url detected",
        "your message was infected with a virus",
    ),
    "securityerror": (
        "account not subscribed to ses",
        "authentication credentials invalid",
        "authentication failure",
        "authentication required",
        "authentication turned on in your email client",
        "executable files are not allowed in compressed files",
        "insecure mail relay",
        "recipient address rejected: access denied",
        "sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts",
        "unauthenticated senders not allowed",
        "verification failure",
        "you are not authorized to send mail, authentication is required",
        "starttls is required to send mail",
        "tls required but not supported",
    ),
    "systemerror": (
        "aliasing/forwarding loop broken",
        "can't create user output file",
        "could not load drd for domain",
        "internal error reading data",
        "internal server error: operation now in progress",
        "interrupted system call",
        "it encountered an error while being processed",
        "it would create a mail loop",
        "local configuration error",
        "local error in processing",
        "loop was found in the mail exchanger",
        "loops back to myself",
        "mail system configuration error",
        "queue file write error",
        "recipient deferred because there is no mdb",
        "remote server is misconfigured",
        "server configuration error",
        "service currently unavailable",
        "system config error",
        "temporary local problem",
        "timeout waiting for input",
        "transaction failed",
    ),
    "networkerror": (
        "could not connect and send the mail to",
        "dns records for the destination computer could not be found",
        "hop count exceeded - possible mail loop",
        "host is unreachable",
        "host name lookup failure",
        "host not found, try again",
        "mail forwarding loop for ",
        "malformed name server reply",
        "malformed or unexpected name server reply",
        "maximum forwarding loop count exceeded",
        "message looping",
        "message probably in a routing loop",
        "no route to host",
        "too many hops",
        "unable to resolve route ",
        "unrouteable mail domain",
    ),
    "systemfull": ("mail system full", "requested mail action aborted: exceeded storage allocation"),
    "notaccept": (
        "does not accept mail (nullmx)",
        "host/domain does not accept mail",
        "host does not accept mail",
        "mail receiving disabled",
        "name server: .: host not found",
        "no mx record found for domain=",
        "no route for current request",
        "smtp protocol returned a permanent error",
    ),
    "expired": (
        "connection timed out",
        "could not find a gateway for",
        "delivery attempts will continue to be",
        "delivery expired",
        "delivery time expired",
        "failed to deliver to domain ",
        "giving up on",
        "have been failing for a long time",
        "has been delayed",
        "it has not been collected after",
        "message expired after sitting in queue for",
        "message expired, cannot connect to remote server",
        "message expired, connection refulsed",
        "message timed out",
        "retry time not reached for any host after a long failure period",
        "server did not respond",
        "this message has been in the queue too long",
        "unable to deliver message after multiple retries",
        "was not reachable within the allowed queue period",
        "your message could not be delivered for more than",
        "retry timeout exceeded",
        "queue.expired",
        "message will be retried for",
        "delivery to the following recipient has been delayed",
    ),
    "mailererror": (
        " || exit ",
        "procmail: ",
        "bin/procmail",
        "bin/maidrop",
        "command failed: ",
        "command died with status ",
        "command output:",
        "mailer error",
        "pipe to |/",
        "x-unix; ",
    ),
}

# What particular MTAs write, which settles the reason outright (Sisimai keeps these in its
# per-MTA modules). Checked before the general rules; a vague one (see reason.RETRY) may still be
# refined by them.
EXPLICIT: dict[str, tuple[str, ...]] = {
    "expired": (
        "the recipient server did not accept our requests to connect",
        "could not deliver for the last",
        "your message was not delivered within",
        "envelope expired",
        "host not reachable",
        "connection timed out during user open",
        "message could not be delivered for",
    ),
    "systemerror": ("(state 6)", "(state 8)", "(state 9)", "duplicated message-id", "unable to contact ldap server"),
    "norelaying": ("(state 12)", "insecure mail relay"),
    "blocked": ("but my name was rejected",),
    "userunknown": (
        "(state 14)",
        "not listed in domino directory",
        "domino ディレクトリには見つかりません",
        "not listed in public name & address book",
        "ディレクトリのリストにありません",
        "invalid final delivery userid",
        "and other recipients in the same domain",
        "no valid recipients for this mm",
    ),
    "filtered": (
        "(state 15)",
        "(state 17)",
        "(state 18)",
        "each of the following recipients was rejected by a remote mail server",
        # A "user unknown" with the address left out: how a recipient's own sender filter answers
        # at some mobile carriers (au/ezweb), relayed as is by Yahoo, Gmail and others.
        "550 : user unknown",
        "550: : user unknown",
    ),
    "hostunknown": ("dns lookup failure: host",),
    "suspend": ("the user(s) account is disabled", "the recipient account is blocked"),
    "rejected": (
        "resolver.rst.notauthorized",
        "you are not a member of this mailing list",
        "may not exist, or you may not have permission to post",
    ),
    "notaccept": (
        "an mx or srv record indicated no smtp service",
        "doesn't receive email",
        "no mx found for domain",
        "couldn't find a mail exchanger or ip address",
    ),
    "securityerror": ("please turn on smtp authentication in your mail client",),
    "networkerror": (
        "network error on destination mxs",
        "responded with code nxdomain",
        "had no relevant answers",
        "wasn't able to establish an smtp connection",
        "host name lookup failure",
    ),
    # A limit on how many bad addresses one client may try (directory-harvest protection): the
    # client is throttled, whatever "invalid recipient" says about the mailbox.
    "toomanyconn": (
        "frequency limited",
        "too many bad recipients",
        "too many invalid recipients",
        "too many unknown recipients",
    ),
    "authfailure": ("dmarc check failed", "fails to pass authentication checks"),
    "mailboxfull": ("as their mailbox is full",),
    "syntaxerror": ("malformed address:",),
    # Exchange's categorizer and routing codes for a size limit (a recipient's or sender's maximum
    # message size, a connector's): the message is too big, whatever X.2.3 or X.3.4 suggests.
    "mesgtoobig": ("resolver.rst.recipsizelimit", "resolver.rst.sendsizelimit", "routing.sizelimit"),
}
# Mailbox domains whose refusals mean one thing whatever the wording (Sisimai's "rhost" idea).
BY_RECIPIENT_DOMAIN: dict[str, str] = {"googlegroups.com": "rejected"}

ALIGNED: dict[str, tuple[tuple[str, ...], ...]] = {
    "mailboxfull": (
        ("account is ", " quota"),
        ("disk", "quota"),
        ("enough ", " space"),
        ("mailbox ", "exceeded", " limit"),
        ("mailbox ", "full"),
        ("mailbox ", "quota"),
        ("maildir ", "quota"),
        ("over ", "quota"),
        ("quota ", "exceeded"),
    ),
    "userunknown": (
        ("<", "> not found"),
        ("<", ">... blocked by "),
        ("account ", " does not exist at the organization"),
        ("bad", "recipient"),
        ("mailbox ", "does not exist"),
        ("mailbox ", "unavailable or access denied"),
        ("no ", " in name directory"),
        ("non", "existent user"),
        ("rcpt <", " does not exist"),
        ("rcpt (", "t exist "),
        ("recipient ", " was not found in"),
        ("recipient address rejected: user ", " does not exist"),
        ("recipient address rejected: user unknown in ", " table"),
        ("said: 550", "5.1.1 ", " user unknown "),
        ("this user doesn't have a ", " account"),
        ("unknown e", "mail address"),
        ("unknown local", "part"),
        ("user ", " was not found"),
        ("user ", " does not exist"),
        ("user (", ") unknown"),
    ),
    "userunknown_stated": (
        ("account ", " does not exist at the organization"),
        ("mailbox ", "does not exist"),
        ("this user doesn't have a ", " account"),
    ),
    "requireptr": (
        ("domain ", " mismatches client ip"),
        ("dns lookup failure: ", " try again later"),
        ("reverse dns lookup for host ", " failed permanently"),
        ("server access ", " forbidden by invalid rdns record of your mail server"),
        ("service permits ", " unverifyable sending ips"),
    ),
    "notcompliantrfc": ((" multiple ", " header"),),
    "hostunknown": (("553 ", " does not exist"),),
    "authfailure": (
        (" is not allowed to send mail.", "_401"),
        ("is not allowed to send from <", " per it's spf record"),
    ),
    "spamdetected": (
        ("greylisted", " please try again in"),
        ("mail score (", " over "),
        ("mail rejete. mail rejected. ", "506"),
        ("our filters rate at and above ", " percent probability of being spam"),
        ("rejected by ", " (spam)"),
        ("rejected due to spam ", "classification"),
        ("rejected due to spam ", "content"),
        ("rule imposed as ", " is blacklisted on"),
        ("spam ", " exceeded"),
        ("this message scored ", " spam points"),
    ),
    "blocked": (
        ("(", "@", ":blocked)"),
        ("access from ip address ", " blocked"),
        ("client host ", " blocked using"),
        ("connections will not be accepted from ", " because the ip is in spamhaus's list"),
        ("dnsbl:rbl ", ">_is_blocked"),
        ("email blocked by ", ".barracudacentral.org"),
        ("email blocked by ", "spamhaus"),
        ("host ", " refused to talk to me: ", " blocked"),
        ("ip ", " is blocked by earthlink"),
        ("is in an ", "rbl on "),
        ("mail server at ", " is blocked"),
        ("mail from ", " refused:"),
        ("mail from ", " refused by "),
        ("mail from ", " refused, see ", "orbs"),
        ("message from ", " rejected based on blacklist"),
        ("messages from ", " temporarily deferred due to user complaints"),
        ("server ip ", " listed as abusive"),
        ("sorry! your ip address", " is blocked by rbl"),
        ("the domain ", " is blacklisted"),
        ("the email ", " is blacklisted"),
        ("the ip", " is blacklisted"),
        ("ip ", " is listed on "),
        ("ip ", " is listed in "),
        ("ip ", " is listed at "),
        ("your access ip", " has been rejected"),
        ("your sender's ip address is listed at ", ".abuseat.org"),
    ),
    "policyviolation": (("you have exceeded the", "allowable number of posts without solving a captcha"),),
    "securityerror": (
        ("authentication failed; server ", " said: "),
        ("authentification invalide", "305"),
        ("authentification requise", "402"),
        ("domain ", " is a dead domain"),
        ("user ", " is not authorized to perform ses:sendrawemail on resource"),
    ),
    "systemerror": (("unable to connect ", "daemon"),),
    # Postfix: "connect to mx.example.net[192.0.2.1]:25: Connection refused" (TCP, before any SMTP)
    "networkerror": (("connect to ", ": connection refused"),),
    "expired": (("could not be delivered for", " days"), ("delivery failed ", " attempts")),
}


_Pending = tuple[tuple[str, tuple[str, ...]], ...]  # (reason, fragments still to find) per aligned tuple
_Entry = tuple[frozenset[str], _Pending]


# Word-led phrases are told apart by the regex only up to this many characters; the rest of each
# is compared with ``str.startswith``. A pattern of whole phrases would be three times longer, and
# compiling it (at import, on the CLI's start-up path) cost as much as parsing dozens of files.
_WORD_PREFIX = 12


def _build() -> tuple[re.Pattern[str], dict[str, _Entry], dict[str, tuple[tuple[str, ...], str | None]]]:
    owners: dict[str, set[str]] = {}
    for prefix, source in (("", PHRASES), ("!", EXPLICIT)):
        for reason, words in source.items():
            for word in words:
                owners.setdefault(word, set()).add(prefix + reason)
    starters: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for reason, tuples in ALIGNED.items():
        for frags in tuples:
            starters.setdefault(frags[0], []).append((reason, frags[1:]))
    vocabulary = sorted(set(owners) | set(starters))
    # What a match of ``word`` implies: the reasons of every phrase that is a prefix of it (the
    # engine reports only the longest phrase starting at a position), and the aligned tuples to
    # check. In sorted order a word's prefixes come before it, and every word between a prefix
    # and it starts with that prefix: a stack of the words that are prefixes of the current one
    # gives each word its inherited entry in one step (this table is built at import, on the
    # CLI's start-up path).
    table: dict[str, _Entry] = {}
    chain: list[str] = []  # vocabulary words that are prefixes of the current word, shortest first
    for word in vocabulary:
        while chain and not word.startswith(chain[-1]):
            chain.pop()
        reasons, pending = table[chain[-1]] if chain else (frozenset(), ())
        if word in owners:
            reasons = reasons.union(owners[word])
        if word in starters:
            pending += tuple(starters[word])
        table[word] = (reasons, pending)
        chain.append(word)
    # Phrases that open with a letter or digit are tried only where a word starts. Each pattern
    # opens with a character class (no leading assertion), so the engine skips at C speed to the
    # positions worth trying instead of entering a lookahead at every character: about a third
    # less time than one alternation of lookaheads.
    word_led = [w for w in vocabulary if w[0].isalnum()]
    # The regex finds the longest of the phrases' openings (their first ``_WORD_PREFIX``
    # characters) at a word start; the phrases that may be there are those whose opening is a
    # prefix of it, tried longest first.
    by_opening: dict[str, list[str]] = {}
    for word in word_led:
        by_opening.setdefault(word[:_WORD_PREFIX], []).append(word)
    # A phrase no longer than the opening found is a prefix of it: it is there, and the longest of
    # those is the phrase taken unless a longer one (which the regex told apart only by its
    # opening, the whole of which it matched) is there too. As in the table above, a stack of the
    # short phrases that are prefixes of the current opening (in sorted order) gives each opening
    # the longest of them in one step.
    candidates: dict[str, tuple[tuple[str, ...], str | None]] = {}
    chain = []  # short phrases that are prefixes of the current opening, shortest first
    for opening, group in sorted(by_opening.items()):
        while chain and not opening.startswith(chain[-1]):
            chain.pop()
        # (``word_led`` is sorted: the opening itself, the one phrase of the group that may be no
        # longer than it, comes first)
        short = len(group[0]) <= _WORD_PREFIX
        if short:
            chain.append(group[0])
        longest_first = tuple(sorted(group[short:], key=len, reverse=True)) if len(group) > short else ()
        candidates[opening] = (longest_first, chain[-1] if chain else None)
    wordy = literal_trie_pattern(by_opening)
    # The opening is consumed, not looked ahead at (a lookahead costs the engine a frame of its own
    # at every separator): the caller resumes each search one character after the separator. Only
    # the check of the character after the separator is a lookahead: half the separators are
    # followed by one that opens no phrase (a space, a digit, a sign), and one set lookup rejects
    # them where the trie would try each of its first characters in turn. (The first characters
    # are letters or digits: nothing in them is special inside a set.)
    firsts = "".join(sorted({opening[0] for opening in by_opening}))
    return re.compile(f"[^a-z0-9](?=[{firsts}])({wordy})"), table, candidates


def _gate(words: list[str], table: dict[str, _Entry]) -> tuple[str, ...]:
    """Fragments of which one must occur in a text for an aligned tuple that one of ``words``
    starts to be confirmed there: the longest (the rarest, as a rule) of each tuple's rest."""
    return tuple(sorted({max(rest, key=len) for w in words for _, rest in table[w][1]}))


def _build_separator_led(table: dict[str, _Entry]) -> tuple[_Plain, _Found, _Tries]:
    """The phrases that open with a separator (" has been replaced by ", "(state 14)", "<"),
    sorted by how they are cheapest to find. One pattern for all of them would open with a
    character class and try its trie at every space of the text. Instead, a phrase that is no
    prefix of another and has none (so that wherever it occurs it is the longest phrase there)
    is looked for with ``in`` when a match only adds reasons, or with ``str.find`` at each
    occurrence when it starts an aligned tuple; the others get one trie per opening character,
    which the engine skips ahead to as a literal. Where no aligned tuple can be confirmed (none of
    the ``_gate`` fragments occurs), only the phrases that name reasons are looked for."""
    words = sorted(w for w in table if not w[0].isalnum())
    alone = [w for w in words if not any(o != w and (o.startswith(w) or w.startswith(o)) for o in words)]
    # Phrases that share their first two characters ("//www.spamhaus...", "//spf.pobox...") are
    # looked for only where those occur: one scan rules out the group.
    by_opening: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for w in alone:
        if not table[w][1]:
            by_opening.setdefault(w[:2], []).append((w, table[w][0]))
    plain = tuple((opening if len(group) > 1 else group[0][0], tuple(group)) for opening, group in by_opening.items())
    found = tuple((w, table[w][0], _gate([w], table)) for w in alone if table[w][1])
    by_char: dict[str, list[str]] = {}
    for w in words:
        if w not in alone:
            by_char.setdefault(w[0], []).append(w)
    tries = []
    for char, group in sorted(by_char.items()):
        naming = [w for w in group if table[w][0]]
        reduced = re.compile(literal_trie_pattern(naming)) if naming else None
        tries.append((char, re.compile(literal_trie_pattern(group)), _gate(group, table), reduced))
    return plain, found, tuple(tries)


_Plain = tuple[tuple[str, tuple[tuple[str, frozenset[str]], ...]], ...]  # (shared opening, phrases)
_Found = tuple[tuple[str, frozenset[str], tuple[str, ...]], ...]
_Tries = tuple[tuple[str, re.Pattern[str], tuple[str, ...], re.Pattern[str] | None], ...]
_WORD_AFTER_SEPARATOR, _TABLE, _CANDIDATES = _build()
_PLAIN_LED, _FOUND_LED, _TRIES_LED = _build_separator_led(_TABLE)

# Characters few bounce texts hold, the rarest first (share of the corpus's diagnostics that hold
# one: "|" 1%, "_" 4%, "#" 9%, "/" and ")" 24%, "-" 40%, "<" and ">" 45%, "y" 52%, "b" 57%).
# A search for one character is a ``memchr``; one for a phrase compares at every occurrence of its
# last character, about six instructions per character of the text. The separator-led phrases and
# their gates are looked for only where their seldomest character occurs: most texts lack it, and
# the phrase search is skipped.
_SELDOM = "|_#/)-<>yb"


def _seldom(needle: str) -> str:
    """The first of ``_SELDOM`` in ``needle``, or "" (which every text holds)."""
    return next((c for c in _SELDOM if c in needle), "")


def _seldom_pairs(needles: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((_seldom(n), n) for n in needles)


_PLAIN_SELDOM = tuple((_seldom(shared), shared, plain) for shared, plain in _PLAIN_LED)
_FOUND_SELDOM = tuple((word, reasons, _seldom(word), _seldom_pairs(gate)) for word, reasons, gate in _FOUND_LED)
_TRIES_SELDOM = tuple((char, full, _seldom_pairs(gate), reduced) for char, full, gate, reduced in _TRIES_LED)
REASONS: frozenset[str] = frozenset((*PHRASES, *ALIGNED))


def reasons_in(lowered: str) -> frozenset[str]:
    """Every reason with a phrase in ``lowered`` (already lower-cased text); reasons found through
    ``EXPLICIT`` come back prefixed with "!". At each position the longest phrase starting there
    counts: a word-led phrase where a word starts (offset 0, or after a character outside
    ``[a-z0-9]``), any other phrase anywhere. Aligned tuples are then confirmed with ``str.find``
    inside a bounded window on the same line. The order of the hits does not matter: the result
    is the union of what each implies."""
    found: set[str] = set()
    # A leading separator lets the text's first word be found like the others; offsets in the
    # padded copy are one ahead, so a match's start is its word's offset in ``lowered``.
    padded = " " + lowered
    pos = 0
    while (m := _WORD_AFTER_SEPARATOR.search(padded, pos)) is not None:
        start = pos = m.start()
        longer, there = _CANDIDATES[m[1]]
        for word in longer:
            # (a slice compared costs less than ``startswith`` with an offset, whose arguments are parsed from a tuple)
            if lowered[start : start + len(word)] == word:
                _take(lowered, start, word, found)
                break
        else:
            if there is not None:
                _take(lowered, start, there, found)
        pos += 1
    # The phrases that open with a separator, everywhere: each occurrence counts (phrases may
    # overlap), the longest at its position.
    # (each search for a phrase or a gate behind one for its seldomest character; the gates'
    # loops are written out: a call of ``holds_any`` costs more than the searches of a short text)
    for seldom, shared, plain in _PLAIN_SELDOM:
        if seldom in lowered and shared in lowered:
            for word, reasons in plain:
                if word in lowered:
                    found.update(reasons)
    for word, reasons, seldom, gate in _FOUND_SELDOM:
        for char, fragment in gate:
            if char in lowered and fragment in lowered:
                break
        else:  # no aligned tuple of ``word`` can be confirmed here
            if reasons and seldom in lowered and word in lowered:
                found.update(reasons)
            continue
        at = lowered.find(word)
        while at != -1:
            _take(lowered, at, word, found)
            at = lowered.find(word, at + 1)
    for char, full, gate, reduced in _TRIES_SELDOM:
        if char not in lowered:
            continue
        trie = full
        for seldom, fragment in gate:
            if seldom in lowered and fragment in lowered:
                break
        else:  # no aligned tuple can be confirmed: only the phrases that name reasons matter
            if reduced is None:
                continue
            trie = reduced
        pos = 0
        # each search resumes one character after the last hit: at most one search per character
        while (led := trie.search(lowered, pos)) is not None:
            _take(lowered, led.start(), led.group(0), found)
            pos = led.start() + 1
    return frozenset(found)


def _take(lowered: str, start: int, word: str, found: set[str]) -> None:
    """Add what the phrase ``word`` at ``start`` implies to ``found``."""
    reasons, pending = _TABLE[word]
    found.update(reasons)
    for reason, rest in pending:
        if reason in found:
            continue
        pos = start + len(word)
        for frag in rest:
            # the window, cut at the line's end (aligned: same line); a slice and argument-free
            # calls cost less than ``find`` with bounds
            hit = lowered[pos : pos + _GAP + len(frag)].partition("\n")[0].find(frag)
            if hit == -1:
                break
            pos += hit + len(frag)
        else:
            found.add(reason)
