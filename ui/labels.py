"""The floor terminal's words in each operator language. A terminal's language is its `?lang=`,
else the first language its browser asks for that is here, else English.

Only the terminal's own words are translated: the manual's lines, its safety notices and the
citations are shown as the manual writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopfloor.languages import ENGLISH, supported


@dataclass(frozen=True)
class Labels:
    title: str
    intro: str
    equipment: str
    document: str
    new_conversation: str
    conversation: str
    placeholder: str
    ask: str
    what_was_wrong: str
    send: str
    sources: str
    closest: str
    from_manual: str
    page: str
    could_not_answer: str
    model_unreachable: str


LABELS = {
    "en": Labels(
        title="Shopfloor Assistant",
        intro="Ask about machines, procedures and maintenance. Answers cite the manuals.",
        equipment="Equipment / line",
        document="Document",
        new_conversation="New conversation",
        conversation="Conversation",
        placeholder="Type your question…",
        ask="Ask",
        what_was_wrong="What was wrong? (optional)",
        send="Send",
        sources="Sources — tap one to open it",
        closest="Closest lines:",
        from_manual="From the manual:",
        page="page",
        could_not_answer="The assistant could not answer just now. Please try again, or ask a technician.",
        model_unreachable="The answer model cannot be reached just now: these are the manual's own lines.",
    ),
    "de": Labels(
        title="Shopfloor-Assistent",
        intro="Fragen zu Maschinen, Abläufen und Wartung. Die Antworten nennen die Handbücher.",
        equipment="Anlage / Linie",
        document="Dokument",
        new_conversation="Neues Gespräch",
        conversation="Gespräch",
        placeholder="Ihre Frage…",
        ask="Fragen",
        what_was_wrong="Was war falsch? (optional)",
        send="Senden",
        sources="Quellen — antippen zum Öffnen",
        closest="Nächstliegende Zeilen:",
        from_manual="Aus dem Handbuch:",
        page="Seite",
        could_not_answer="Der Assistent konnte gerade nicht antworten. Bitte erneut versuchen oder Techniker fragen.",
        model_unreachable="Das Antwortmodell ist gerade nicht erreichbar: Dies sind die Zeilen aus dem Handbuch.",
    ),
    "es": Labels(
        title="Asistente de planta",
        intro="Pregunte sobre máquinas, procedimientos y mantenimiento. Las respuestas citan los manuales.",
        equipment="Equipo / línea",
        document="Documento",
        new_conversation="Nueva conversación",
        conversation="Conversación",
        placeholder="Escriba su pregunta…",
        ask="Preguntar",
        what_was_wrong="¿Qué estaba mal? (opcional)",
        send="Enviar",
        sources="Fuentes — toque una para abrirla",
        closest="Líneas más cercanas:",
        from_manual="Del manual:",
        page="página",
        could_not_answer="El asistente no pudo responder ahora. Inténtelo de nuevo o consulte a un técnico.",
        model_unreachable="El modelo de respuestas no está disponible ahora: estas son las líneas del manual.",
    ),
    "pt": Labels(
        title="Assistente de chão de fábrica",
        intro="Pergunte sobre máquinas, procedimentos e manutenção. As respostas citam os manuais.",
        equipment="Equipamento / linha",
        document="Documento",
        new_conversation="Nova conversa",
        conversation="Conversa",
        placeholder="Digite sua pergunta…",
        ask="Perguntar",
        what_was_wrong="O que estava errado? (opcional)",
        send="Enviar",
        sources="Fontes — toque em uma para abrir",
        closest="Linhas mais próximas:",
        from_manual="Do manual:",
        page="página",
        could_not_answer="O assistente não conseguiu responder agora. Tente de novo ou pergunte a um técnico.",
        model_unreachable="O modelo de respostas não está acessível agora: estas são as linhas do manual.",
    ),
    "fr": Labels(
        title="Assistant d'atelier",
        intro="Questions sur les machines, les procédures et la maintenance. Les réponses citent les manuels.",
        equipment="Équipement / ligne",
        document="Document",
        new_conversation="Nouvelle conversation",
        conversation="Conversation",
        placeholder="Tapez votre question…",
        ask="Demander",
        what_was_wrong="Qu'est-ce qui n'allait pas ? (facultatif)",
        send="Envoyer",
        sources="Sources — touchez-en une pour l'ouvrir",
        closest="Lignes les plus proches :",
        from_manual="Extrait du manuel :",
        page="page",
        could_not_answer="L'assistant n'a pas pu répondre. Réessayez ou demandez à un technicien.",
        model_unreachable="Le modèle de réponse est injoignable pour le moment : voici les lignes du manuel.",
    ),
    "pl": Labels(
        title="Asystent hali produkcyjnej",
        intro="Pytaj o maszyny, procedury i konserwację. Odpowiedzi cytują instrukcje.",
        equipment="Urządzenie / linia",
        document="Dokument",
        new_conversation="Nowa rozmowa",
        conversation="Rozmowa",
        placeholder="Wpisz pytanie…",
        ask="Zapytaj",
        what_was_wrong="Co było nie tak? (opcjonalnie)",
        send="Wyślij",
        sources="Źródła — dotknij, aby otworzyć",
        closest="Najbliższe wiersze:",
        from_manual="Z instrukcji:",
        page="strona",
        could_not_answer="Asystent nie mógł teraz odpowiedzieć. Spróbuj ponownie lub zapytaj technika.",
        model_unreachable="Model odpowiedzi jest teraz niedostępny: oto wiersze z instrukcji.",
    ),
    "tr": Labels(
        title="Atölye Asistanı",
        intro="Makineler, prosedürler ve bakım hakkında sorun. Yanıtlar kılavuzlara atıf yapar.",
        equipment="Ekipman / hat",
        document="Doküman",
        new_conversation="Yeni konuşma",
        conversation="Konuşma",
        placeholder="Sorunuzu yazın…",
        ask="Sor",
        what_was_wrong="Ne yanlıştı? (isteğe bağlı)",
        send="Gönder",
        sources="Kaynaklar — açmak için birine dokunun",
        closest="En yakın satırlar:",
        from_manual="Kılavuzdan:",
        page="sayfa",
        could_not_answer="Asistan şu anda yanıt veremedi. Tekrar deneyin veya bir teknisyene sorun.",
        model_unreachable="Yanıt modeline şu anda ulaşılamıyor: bunlar kılavuzun kendi satırları.",
    ),
    "it": Labels(
        title="Assistente di reparto",
        intro="Chiedi di macchine, procedure e manutenzione. Le risposte citano i manuali.",
        equipment="Impianto / linea",
        document="Documento",
        new_conversation="Nuova conversazione",
        conversation="Conversazione",
        placeholder="Scrivi la domanda…",
        ask="Chiedi",
        what_was_wrong="Cosa non andava? (facoltativo)",
        send="Invia",
        sources="Fonti — tocca per aprire",
        closest="Righe più vicine:",
        from_manual="Dal manuale:",
        page="pagina",
        could_not_answer="L'assistente non ha potuto rispondere. Riprova o chiedi a un tecnico.",
        model_unreachable="Il modello di risposta non è raggiungibile ora: queste sono le righe del manuale.",
    ),
}


def terminal_language(query_lang: str | None, accept_language: str | None) -> str:
    """`?lang=de` wins; else the browser's languages in its order of preference (Accept-Language:
    "de-AT,de;q=0.9,en;q=0.8"); else English."""
    chosen = supported(query_lang)
    if chosen:
        return chosen
    weighted = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, position, tag))
    for _, _, tag in sorted(weighted):
        code = supported(tag)
        if code:
            return code
    return ENGLISH


def labels_for(language: str) -> Labels:
    return LABELS.get(language, LABELS[ENGLISH])
