"""The labels Microsoft shows for the menus and buttons the knowledge base names in English.

Each language writes the English path in backticks (what the admin types into a search or sees
in an English tenant) followed by the localized label in parentheses. Shared by the knowledge
tests; the knowledge files carry the labels themselves.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "es": {
        "Mail flow > Connectors": "Flujo de correo > Conectores",
        "Mail flow > Message trace": "Flujo de correo > Seguimiento de mensajes",
        "Mail flow > Accepted domains": "Flujo de correo > Dominios aceptados",
        "Mail flow > Rules": "Flujo de correo > Reglas",
        "Recipients > Mailboxes": "Destinatarios > Buzones",
        "Recipients > Groups": "Destinatarios > Grupos",
        "Recipients > Contacts": "Destinatarios > Contactos",
        "Public folders > Public folders": "Carpetas públicas > Carpetas públicas",
        "Settings > Domains": "Configuración > Dominios",
        "Users > Active users": "Usuarios > Usuarios activos",
        "Fix now": "Corregir ahora",
        "Authoritative": "Autoritativo",
        "Internal Relay": "Retransmisión interna",
    },
    "fr": {
        "Mail flow > Connectors": "Flux de courrier > Connecteurs",
        "Mail flow > Message trace": "Flux de courrier > Suivi des messages",
        "Mail flow > Accepted domains": "Flux de courrier > Domaines acceptés",
        "Mail flow > Rules": "Flux de courrier > Règles",
        "Recipients > Mailboxes": "Destinataires > Boîtes aux lettres",
        "Recipients > Groups": "Destinataires > Groupes",
        "Recipients > Contacts": "Destinataires > Contacts",
        "Public folders > Public folders": "Dossiers publics > Dossiers publics",
        "Settings > Domains": "Paramètres > Domaines",
        "Users > Active users": "Utilisateurs > Utilisateurs actifs",
        "Fix now": "Corriger maintenant",
        "Authoritative": "Faisant autorité",
        "Internal Relay": "Relais interne",
    },
    "ja": {
        "Mail flow > Connectors": "メール フロー > コネクタ",
        "Mail flow > Message trace": "メール フロー > メッセージ追跡",
        "Mail flow > Accepted domains": "メール フロー > 承認済みドメイン",
        "Mail flow > Rules": "メール フロー > ルール",
        "Recipients > Mailboxes": "受信者 > メールボックス",
        "Recipients > Groups": "受信者 > グループ",
        "Recipients > Contacts": "受信者 > 連絡先",
        "Public folders > Public folders": "パブリック フォルダー > パブリック フォルダー",
        "Settings > Domains": "設定 > ドメイン",
        "Users > Active users": "ユーザー > アクティブなユーザー",
        "Fix now": "今すぐ修正",
        "Authoritative": "権限のある",
        "Internal Relay": "内部リレー",
    },
    "ko": {
        "Mail flow > Connectors": "메일 흐름 > 커넥터",
        "Mail flow > Message trace": "메일 흐름 > 메시지 추적",
        "Mail flow > Accepted domains": "메일 흐름 > 허용 도메인",
        "Mail flow > Rules": "메일 흐름 > 규칙",
        "Recipients > Mailboxes": "받는 사람 > 사서함",
        "Recipients > Groups": "받는 사람 > 그룹",
        "Recipients > Contacts": "받는 사람 > 연락처",
        "Public folders > Public folders": "공용 폴더 > 공용 폴더",
        "Settings > Domains": "설정 > 도메인",
        "Users > Active users": "사용자 > 활성 사용자",
        "Fix now": "지금 수정",
        "Authoritative": "신뢰할 수 있는 도메인",
        "Internal Relay": "내부 릴레이",
    },
    "nl": {
        "Mail flow > Connectors": "E-mailstroom > Connectors",
        "Mail flow > Message trace": "E-mailstroom > Berichttracering",
        "Mail flow > Accepted domains": "E-mailstroom > Geaccepteerde domeinen",
        "Mail flow > Rules": "E-mailstroom > Regels",
        "Recipients > Mailboxes": "Geadresseerden > Postvakken",
        "Recipients > Groups": "Geadresseerden > Groepen",
        "Recipients > Contacts": "Geadresseerden > Contactpersonen",
        "Public folders > Public folders": "Openbare mappen > Openbare mappen",
        "Settings > Domains": "Instellingen > Domeinen",
        "Users > Active users": "Gebruikers > Actieve gebruikers",
        "Authoritative": "Gezaghebbend",
    },
}
OPEN = {"ja": "（", "ko": "("}  # Japanese sets full-width brackets; Korean none before the particle
CLOSE = {"ja": "）", "ko": ")"}


def labelled(lang: str, english: str) -> str:
    """How ``english`` reads in ``lang`` once its label follows it."""
    label = LABELS[lang][english]
    return f"`{english}`{OPEN.get(lang, ' (')}{label}{CLOSE.get(lang, ')')}"
