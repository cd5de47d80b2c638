"""Pipeline step: normalise raw records (called with --call clean_records)."""
import datetime
import re

PHONE = re.compile(r"[^\d+]")


def clean_record(record):
    name = " ".join(str(record.get("name", "")).split()).title()
    email = str(record.get("email", "")).strip().lower()
    phone = PHONE.sub("", str(record.get("phone", "")))
    joined = record.get("joined")
    if joined:
        joined = datetime.date.fromisoformat(joined).isoformat()
    return {"name": name, "email": email or None, "phone": phone or None, "joined": joined}


def clean_records(records):
    cleaned, rejected = [], 0
    for record in records:
        try:
            cleaned.append(clean_record(record))
        except (ValueError, TypeError):
            rejected += 1
    return {"records": cleaned, "rejected": rejected}
